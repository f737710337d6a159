"""The user agent: accounts, registration and calls behind one facade, :class:`UserAgent`.

It runs on one asyncio loop: the transports of :mod:`softphone.transport`
under the sans-I/O transactions, dialogs, digest and offer/answer of
:mod:`softphone.sip`. Commands are coroutines; what happens comes back as
the event dataclasses of :mod:`softphone.ua.events`, on ``UserAgent.events``
(an ``asyncio.Queue``) and to callbacks given to ``UserAgent.subscribe``.
"""

from softphone.ua.account import (
    TRANSPORT_NAMES,
    Account,
    AccountError,
    Forwarding,
    TransportName,
    password_from_env,
    password_from_file,
    password_from_keyring,
    password_to_keyring,
)
from softphone.ua.agent import UserAgent
from softphone.ua.call import Call
from softphone.ua.devices import (
    AudioDevice,
    AudioDeviceError,
    BufferPlayer,
    DeviceSpec,
    EchoTestResult,
    LevelMeter,
    echo_test,
    list_audio_devices,
    play_test_tone,
    start_ringtone,
)
from softphone.ua.errors import UserAgentError
from softphone.ua.events import (
    CallbackReadyEvent,
    CallEvent,
    ComposingEvent,
    ConferenceEvent,
    DialogStateEvent,
    DtmfEvent,
    ErrorEvent,
    Event,
    IncomingCallEvent,
    MediaWarningEvent,
    MessageEvent,
    MessageStatusEvent,
    MwiEvent,
    PresenceEvent,
    QualityEvent,
    RecordingEvent,
    RegistrationEvent,
    SubscriptionEvent,
    TransferEvent,
    WatcherEvent,
)
from softphone.ua.media import CallAudio, MediaFactory, ProcessingConfig, device_media, silence_media, wav_media
from softphone.ua.registration import RetryPolicy

__all__ = [
    "TRANSPORT_NAMES",
    "Account",
    "AccountError",
    "AudioDevice",
    "AudioDeviceError",
    "BufferPlayer",
    "Call",
    "CallAudio",
    "CallEvent",
    "CallbackReadyEvent",
    "ComposingEvent",
    "ConferenceEvent",
    "DeviceSpec",
    "DialogStateEvent",
    "DtmfEvent",
    "EchoTestResult",
    "ErrorEvent",
    "Event",
    "Forwarding",
    "IncomingCallEvent",
    "LevelMeter",
    "MediaFactory",
    "MediaWarningEvent",
    "MessageEvent",
    "MessageStatusEvent",
    "MwiEvent",
    "PresenceEvent",
    "ProcessingConfig",
    "QualityEvent",
    "RecordingEvent",
    "RegistrationEvent",
    "RetryPolicy",
    "SubscriptionEvent",
    "TransferEvent",
    "TransportName",
    "UserAgent",
    "UserAgentError",
    "WatcherEvent",
    "device_media",
    "echo_test",
    "list_audio_devices",
    "password_from_env",
    "password_from_file",
    "password_from_keyring",
    "password_to_keyring",
    "play_test_tone",
    "silence_media",
    "start_ringtone",
    "wav_media",
]

<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
    <context>
        <name>AboutDialog</name>
        <message>
            <source>not available</source>
            <translation>nicht verfügbar</translation>
        </message>
        <message>
            <source>About Softphone</source>
            <translation>Über Softphone</translation>
        </message>
        <message>
            <source>Softphone {version}</source>
            <translation>Softphone {version}</translation>
        </message>
        <message>
            <source>Name and version</source>
            <translation>Name und Version</translation>
        </message>
        <message>
            <source>Calls, presence and chat over any standards-compliant SIP service, or with no server on a LAN.</source>
            <translation>Anrufe, Anwesenheit und Chat über jeden standardkonformen SIP-Dienst – oder ganz ohne Server im lokalen Netz.</translation>
        </message>
        <message>
            <source>{name} {version}</source>
            <translation>{name} {version}</translation>
        </message>
        <message>
            <source>Documentation</source>
            <translation>Dokumentation</translation>
        </message>
        <message>
            <source>The documentation is not installed with this copy.</source>
            <translation>Die Dokumentation ist bei dieser Installation nicht dabei.</translation>
        </message>
        <message>
            <source>Close</source>
            <translation>Schließen</translation>
        </message>
    </context>
    <context>
        <name>AccountBanner</name>
        <message>
            <source>Problem with {address}</source>
            <translation>Problem mit {address}</translation>
        </message>
        <message>
            <source>Registration problem of {address}</source>
            <translation>Anmeldeproblem von {address}</translation>
        </message>
        <message>
            <source>Enter &amp;password…</source>
            <translation>&amp;Passwort eingeben …</translation>
        </message>
        <message>
            <source>Enter the password of {address}</source>
            <translation>Passwort von {address} eingeben</translation>
        </message>
        <message>
            <source>&amp;Retry now</source>
            <translation>&amp;Jetzt erneut versuchen</translation>
        </message>
        <message>
            <source>Register {address} again now</source>
            <translation>{address} jetzt erneut anmelden</translation>
        </message>
        <message>
            <source>Trying again now …</source>
            <translation>Neuer Versuch läuft …</translation>
        </message>
        <message>
            <source>Retrying in {seconds} s.</source>
            <translation>Neuer Versuch in {seconds} s.</translation>
        </message>
        <message>
            <source>Waiting for the password.</source>
            <translation>Wartet auf das Passwort.</translation>
        </message>
        <message>
            <source>Not retried by itself.</source>
            <translation>Wird nicht von selbst wiederholt.</translation>
        </message>
    </context>
    <context>
        <name>AccountEditor</name>
        <message>
            <source>Automatic (required over TLS)</source>
            <translation>Automatisch (über TLS Pflicht)</translation>
        </message>
        <message>
            <source>When possible (else plain)</source>
            <translation>Wenn möglich (sonst unverschlüsselt)</translation>
        </message>
        <message>
            <source>Required (calls without it fail)</source>
            <translation>Pflicht (Anrufe ohne scheitern)</translation>
        </message>
        <message>
            <source>Off</source>
            <translation>Aus</translation>
        </message>
        <message>
            <source>DTLS or SDES</source>
            <translation>DTLS oder SDES</translation>
        </message>
        <message>
            <source>DTLS-SRTP (fingerprint in the SDP)</source>
            <translation>DTLS-SRTP (Fingerabdruck im SDP)</translation>
        </message>
        <message>
            <source>SDES (keys in the SDP, over TLS only)</source>
            <translation>SDES (Schlüssel im SDP, nur über TLS)</translation>
        </message>
        <message>
            <source>UDP</source>
            <translation>UDP</translation>
        </message>
        <message>
            <source>TCP (where UDP is blocked)</source>
            <translation>TCP (wo UDP gesperrt ist)</translation>
        </message>
        <message>
            <source>TLS (where UDP is blocked, encrypted)</source>
            <translation>TLS (wo UDP gesperrt ist, verschlüsselt)</translation>
        </message>
        <message>
            <source>Edit account</source>
            <translation>Konto bearbeiten</translation>
        </message>
        <message>
            <source>Add account</source>
            <translation>Konto hinzufügen</translation>
        </message>
        <message>
            <source>Account editor</source>
            <translation>Kontoeditor</translation>
        </message>
        <message>
            <source>alice@example.com</source>
            <translation>alice@example.com</translation>
        </message>
        <message>
            <source>Address of record</source>
            <translation>SIP-Adresse</translation>
        </message>
        <message>
            <source>Display name</source>
            <translation>Anzeigename</translation>
        </message>
        <message>
            <source>optional: the user part of the address</source>
            <translation>optional: der Benutzerteil der Adresse</translation>
        </message>
        <message>
            <source>Authentication user</source>
            <translation>Benutzer für die Anmeldung</translation>
        </message>
        <message>
            <source>unchanged (kept in the system keyring)</source>
            <translation>unverändert (im Schlüsselbund des Systems)</translation>
        </message>
        <message>
            <source>unchanged (kept in its file)</source>
            <translation>unverändert (in seiner Datei)</translation>
        </message>
        <message>
            <source>unchanged</source>
            <translation>unverändert</translation>
        </message>
        <message>
            <source>Password</source>
            <translation>Passwort</translation>
        </message>
        <message>
            <source>optional: the address's domain; host, host:port or sip: URI</source>
            <translation>optional: die Domain der Adresse; Host, Host:Port oder sip:-URI</translation>
        </message>
        <message>
            <source>Registrar</source>
            <translation>Registrar</translation>
        </message>
        <message>
            <source>optional: host, host:port or sip: URI</source>
            <translation>optional: Host, Host:Port oder sip:-URI</translation>
        </message>
        <message>
            <source>Outbound proxy</source>
            <translation>Ausgehender Proxy</translation>
        </message>
        <message>
            <source>optional: host or host:port; behind a NAT it tells the public address</source>
            <translation>optional: Host oder Host:Port; hinter einem NAT nennt er die öffentliche Adresse</translation>
        </message>
        <message>
            <source>STUN server</source>
            <translation>STUN-Server</translation>
        </message>
        <message>
            <source>optional: host or host:port; calls relay their audio through it</source>
            <translation>optional: Host oder Host:Port; Anrufe leiten ihr Audio darüber</translation>
        </message>
        <message>
            <source>TURN server</source>
            <translation>TURN-Server</translation>
        </message>
        <message>
            <source>TURN user</source>
            <translation>TURN-Benutzer</translation>
        </message>
        <message>
            <source>TURN password</source>
            <translation>TURN-Passwort</translation>
        </message>
        <message>
            <source>TURN transport</source>
            <translation>TURN-Transport</translation>
        </message>
        <message>
            <source>How calls reach the TURN server: TCP or TLS gets through networks that block UDP</source>
            <translation>Wie Anrufe den TURN-Server erreichen: TCP oder TLS kommt durch Netze, die UDP sperren</translation>
        </message>
        <message>
            <source>Find the media path with &amp;ICE when a STUN or TURN server is set</source>
            <translation>Medienweg mit &amp;ICE suchen, wenn ein STUN- oder TURN-Server eingetragen ist</translation>
        </message>
        <message>
            <source>Use ICE</source>
            <translation>ICE verwenden</translation>
        </message>
        <message>
            <source>Off: calls use the address in the SDP, and the relay for every call with TURN</source>
            <translation>Aus: Anrufe nutzen die Adresse aus dem SDP und mit TURN bei jedem Anruf das Relay</translation>
        </message>
        <message>
            <source>Transport</source>
            <translation>Transport</translation>
        </message>
        <message>
            <source>&amp;Register with the server</source>
            <translation>Beim Server &amp;anmelden</translation>
        </message>
        <message>
            <source>Register with the server</source>
            <translation>Beim Server anmelden</translation>
        </message>
        <message>
            <source>Off: no server, calls and messages go straight to other phones on the LAN</source>
            <translation>Aus: kein Server, Anrufe und Nachrichten gehen direkt an andere Telefone im lokalen Netz</translation>
        </message>
        <message>
            <source>&amp;Address:</source>
            <translation>&amp;Adresse:</translation>
        </message>
        <message>
            <source>&amp;Display name:</source>
            <translation>Anzeige&amp;name:</translation>
        </message>
        <message>
            <source>A&amp;uth user:</source>
            <translation>Anmelde&amp;benutzer:</translation>
        </message>
        <message>
            <source>&amp;Password:</source>
            <translation>&amp;Passwort:</translation>
        </message>
        <message>
            <source>Re&amp;gistrar:</source>
            <translation>Re&amp;gistrar:</translation>
        </message>
        <message>
            <source>&amp;Outbound proxy:</source>
            <translation>Ausgehender &amp;Proxy:</translation>
        </message>
        <message>
            <source>&amp;STUN server:</source>
            <translation>&amp;STUN-Server:</translation>
        </message>
        <message>
            <source>TUR&amp;N server:</source>
            <translation>TUR&amp;N-Server:</translation>
        </message>
        <message>
            <source>TURN user:</source>
            <translation>TURN-Benutzer:</translation>
        </message>
        <message>
            <source>TURN password:</source>
            <translation>TURN-Passwort:</translation>
        </message>
        <message>
            <source>TURN transport:</source>
            <translation>TURN-Transport:</translation>
        </message>
        <message>
            <source>&amp;Transport:</source>
            <translation>&amp;Transport:</translation>
        </message>
        <message>
            <source>Media encryption</source>
            <translation>Medienverschlüsselung</translation>
        </message>
        <message>
            <source>SRTP for the call's audio; the call window shows a lock when it is on</source>
            <translation>SRTP für den Ton des Anrufs; das Anruffenster zeigt ein Schloss, wenn es aktiv ist</translation>
        </message>
        <message>
            <source>Encryption keys</source>
            <translation>Schlüssel der Verschlüsselung</translation>
        </message>
        <message>
            <source>&amp;Encryption:</source>
            <translation>Verschl&amp;üsselung:</translation>
        </message>
        <message>
            <source>&amp;Keys by:</source>
            <translation>&amp;Schlüssel über:</translation>
        </message>
        <message>
            <source>optional: a PEM file with the certificate and its key</source>
            <translation>optional: eine PEM-Datei mit dem Zertifikat und seinem Schlüssel</translation>
        </message>
        <message>
            <source>Client certificate</source>
            <translation>Client-Zertifikat</translation>
        </message>
        <message>
            <source>Offered to the account's servers over TLS when they ask for one</source>
            <translation>Wird den Servern des Kontos über TLS vorgelegt, wenn sie danach fragen</translation>
        </message>
        <message>
            <source>C&amp;lient certificate:</source>
            <translation>C&amp;lient-Zertifikat:</translation>
        </message>
        <message>
            <source>&amp;Visible to phones nearby (announced on the LAN)</source>
            <translation>Für Telefone in der Nähe s&amp;ichtbar (im LAN bekannt gegeben)</translation>
        </message>
        <message>
            <source>Announce on the LAN</source>
            <translation>Im LAN bekannt geben</translation>
        </message>
        <message>
            <source>Other phones on this network list the account under Nearby (mDNS/DNS-SD). Whether their calls ring is still up to the account: only an account without a server takes calls from anyone.</source>
            <translation>Andere Telefone in diesem Netz führen das Konto unter „In der Nähe“ (mDNS/DNS-SD). Ob ihre Anrufe klingeln, entscheidet weiterhin das Konto: Nur ein Konto ohne Server nimmt Anrufe von allen an.</translation>
        </message>
        <message>
            <source>&amp;Use this account</source>
            <translation>Dieses Konto &amp;verwenden</translation>
        </message>
        <message>
            <source>Use this account</source>
            <translation>Dieses Konto verwenden</translation>
        </message>
        <message>
            <source>Off: the account is kept in the settings but does not register, call or chat</source>
            <translation>Aus: das Konto bleibt in den Einstellungen, meldet sich aber nicht an, telefoniert und chattet nicht</translation>
        </message>
        <message>
            <source>Test &amp;connection</source>
            <translation>&amp;Verbindung testen</translation>
        </message>
        <message>
            <source>Test connection</source>
            <translation>Verbindung testen</translation>
        </message>
        <message>
            <source>Register once with these settings and say what the server answered</source>
            <translation>Einmal mit diesen Einstellungen anmelden und zeigen, was der Server antwortet</translation>
        </message>
        <message>
            <source>Connection test result</source>
            <translation>Ergebnis des Verbindungstests</translation>
        </message>
        <message>
            <source>Test the &amp;network</source>
            <translation>&amp;Netzwerk testen</translation>
        </message>
        <message>
            <source>Test the network</source>
            <translation>Netzwerk testen</translation>
        </message>
        <message>
            <source>Ask the STUN server what kind of NAT is between this computer and the internet</source>
            <translation>Den STUN-Server fragen, welche Art NAT zwischen diesem Computer und dem Internet liegt</translation>
        </message>
        <message>
            <source>Problem</source>
            <translation>Problem</translation>
        </message>
        <message>
            <source>OK</source>
            <translation>OK</translation>
        </message>
        <message>
            <source>Cancel</source>
            <translation>Abbrechen</translation>
        </message>
        <message>
            <source>testing …</source>
            <translation>wird getestet …</translation>
        </message>
        <message>
            <source>Connection test result: testing</source>
            <translation>Ergebnis des Verbindungstests: wird getestet</translation>
        </message>
        <message>
            <source>The network test needs a STUN server: fill in the STUN server field.</source>
            <translation>Der Netzwerktest braucht einen STUN-Server: Bitte das Feld STUN-Server ausfüllen.</translation>
        </message>
        <message>
            <source>Connection test result: {text}</source>
            <translation>Ergebnis des Verbindungstests: {text}</translation>
        </message>
    </context>
    <context>
        <name>AccountRow</name>
        <message>
            <source>registered</source>
            <translation>angemeldet</translation>
        </message>
        <message>
            <source>registering …</source>
            <translation>wird angemeldet …</translation>
        </message>
        <message>
            <source>not registered</source>
            <translation>nicht angemeldet</translation>
        </message>
        <message>
            <source>failed</source>
            <translation>fehlgeschlagen</translation>
        </message>
        <message>
            <source>Click to register again</source>
            <translation>Klicken, um erneut anzumelden</translation>
        </message>
        <message>
            <source>LAN only (not registering)</source>
            <translation>Nur lokales Netz (ohne Anmeldung)</translation>
        </message>
        <message>
            <source>{aor} — {text}</source>
            <translation>{aor} — {text}</translation>
        </message>
        <message>
            <source>Account {aor}: {text}</source>
            <translation>Konto {aor}: {text}</translation>
        </message>
    </context>
    <context>
        <name>AccountWizard</name>
        <message>
            <source>Set up an account</source>
            <translation>Konto einrichten</translation>
        </message>
        <message>
            <source>Account set-up</source>
            <translation>Kontoeinrichtung</translation>
        </message>
        <message>
            <source>Who are you on which SIP service? Choose “No server” to call other phones on this network only.</source>
            <translation>Wer sind Sie bei welchem SIP-Dienst? Wählen Sie „Kein Server“, um nur andere Telefone in diesem Netz anzurufen.</translation>
        </message>
        <message>
            <source>&amp;With a SIP server</source>
            <translation>&amp;Mit einem SIP-Server</translation>
        </message>
        <message>
            <source>Use a SIP server</source>
            <translation>Einen SIP-Server verwenden</translation>
        </message>
        <message>
            <source>&amp;No server: LAN only</source>
            <translation>&amp;Kein Server: nur lokales Netz</translation>
        </message>
        <message>
            <source>No server, LAN only</source>
            <translation>Kein Server, nur lokales Netz</translation>
        </message>
        <message>
            <source>alice@example.com</source>
            <translation>alice@example.com</translation>
        </message>
        <message>
            <source>Address of record</source>
            <translation>SIP-Adresse</translation>
        </message>
        <message>
            <source>Display name</source>
            <translation>Anzeigename</translation>
        </message>
        <message>
            <source>Password</source>
            <translation>Passwort</translation>
        </message>
        <message>
            <source>optional, e.g. registrar.example.com or 192.0.2.1:5060</source>
            <translation>optional, z. B. registrar.example.com oder 192.0.2.1:5060</translation>
        </message>
        <message>
            <source>Registrar</source>
            <translation>Registrar</translation>
        </message>
        <message>
            <source>optional</source>
            <translation>optional</translation>
        </message>
        <message>
            <source>Outbound proxy</source>
            <translation>Ausgehender Proxy</translation>
        </message>
        <message>
            <source>Transport</source>
            <translation>Transport</translation>
        </message>
        <message>
            <source>&amp;Address:</source>
            <translation>&amp;Adresse:</translation>
        </message>
        <message>
            <source>&amp;Display name:</source>
            <translation>Anzeige&amp;name:</translation>
        </message>
        <message>
            <source>&amp;Password:</source>
            <translation>&amp;Passwort:</translation>
        </message>
        <message>
            <source>&amp;Registrar:</source>
            <translation>&amp;Registrar:</translation>
        </message>
        <message>
            <source>&amp;Outbound proxy:</source>
            <translation>Ausgehender &amp;Proxy:</translation>
        </message>
        <message>
            <source>&amp;Transport:</source>
            <translation>&amp;Transport:</translation>
        </message>
        <message>
            <source>Problem</source>
            <translation>Problem</translation>
        </message>
    </context>
    <context>
        <name>AccountsArea</name>
        <message>
            <source>No account yet: set one up in Tools → Settings…. A call asked for meanwhile (a sip: link) is made once there is one.</source>
            <translation>Noch kein Konto: richten Sie eines unter Extras → Einstellungen … ein. Ein Anruf, der inzwischen gewünscht wird (ein sip:-Link), folgt, sobald es eines gibt.</translation>
        </message>
        <message>
            <source>No account</source>
            <translation>Kein Konto</translation>
        </message>
    </context>
    <context>
        <name>AccountsPage</name>
        <message>
            <source>Accounts</source>
            <translation>Konten</translation>
        </message>
        <message>
            <source>&amp;Add…</source>
            <translation>&amp;Hinzufügen …</translation>
        </message>
        <message>
            <source>Add account</source>
            <translation>Konto hinzufügen</translation>
        </message>
        <message>
            <source>&amp;Edit…</source>
            <translation>&amp;Bearbeiten …</translation>
        </message>
        <message>
            <source>Edit account</source>
            <translation>Konto bearbeiten</translation>
        </message>
        <message>
            <source>&amp;Remove</source>
            <translation>&amp;Entfernen</translation>
        </message>
        <message>
            <source>Remove account</source>
            <translation>Konto entfernen</translation>
        </message>
        <message>
            <source>Passwords are kept where you choose for each account (the system keyring, a file only you can read, or nowhere: asked for when needed), never in the settings file. Account changes take effect as soon as they are applied; calls in progress go on.</source>
            <translation>Passwörter werden für jedes Konto dort aufbewahrt, wo Sie es wählen (im Schlüsselbund des Systems, in einer Datei, die nur Sie lesen können, oder nirgends: dann wird bei Bedarf gefragt), nie in der Einstellungsdatei. Kontoänderungen gelten, sobald sie übernommen sind; laufende Gespräche gehen weiter.</translation>
        </message>
        <message>
            <source>registers at {server}</source>
            <translation>meldet sich an bei {server}</translation>
        </message>
        <message>
            <source>LAN only</source>
            <translation>nur lokales Netz</translation>
        </message>
        <message>
            <source>(disabled)</source>
            <translation>(deaktiviert)</translation>
        </message>
    </context>
    <context>
        <name>AttendedTransferDialog</name>
        <message>
            <source>Connect {remote} with …</source>
            <translation>{remote} verbinden mit …</translation>
        </message>
        <message>
            <source>Attended transfer</source>
            <translation>Vermittlung mit Rückfrage</translation>
        </message>
        <message>
            <source>Call to connect with</source>
            <translation>Zu verbindendes Gespräch</translation>
        </message>
        <message>
            <source>Connect with the call:</source>
            <translation>Verbinden mit dem Gespräch:</translation>
        </message>
        <message>
            <source>&amp;Connect</source>
            <translation>&amp;Verbinden</translation>
        </message>
        <message>
            <source>Connect the calls</source>
            <translation>Gespräche verbinden</translation>
        </message>
        <message>
            <source>Cancel attended transfer</source>
            <translation>Vermittlung mit Rückfrage abbrechen</translation>
        </message>
    </context>
    <context>
        <name>AudioPage</name>
        <message>
            <source>The phone cancels the speaker's echo in the microphone by itself, so that calls work without a headset; &lt;b&gt;Test echo&lt;/b&gt; plays a sound and tells how much of it came back, before and after. Turn the rest off for a studio microphone. Optional: the sound system's own canceller (&lt;code&gt;pactl load-module module-echo-cancel&lt;/code&gt;) as the devices above.</source>
            <translation>Das Telefon entfernt das Echo des Lautsprechers im Mikrofon selbst, damit Anrufe ohne Headset gelingen; &lt;b&gt;Echo testen&lt;/b&gt; spielt einen Ton und sagt, wie viel davon zurückkam, vorher und nachher. Für ein Studiomikrofon schalten Sie den Rest aus. Wahlweise: die eigene Echounterdrückung des Soundsystems (&lt;code&gt;pactl load-module module-echo-cancel&lt;/code&gt;) als Geräte oben.</translation>
        </message>
        <message>
            <source>Low</source>
            <translation>Gering</translation>
        </message>
        <message>
            <source>Moderate</source>
            <translation>Mittel</translation>
        </message>
        <message>
            <source>High</source>
            <translation>Stark</translation>
        </message>
        <message>
            <source>No echo heard from {output} (a headset, or the speaker is off): nothing to cancel.</source>
            <translation>Kein Echo von {output} gehört (ein Headset, oder der Lautsprecher ist aus): nichts zu entfernen.</translation>
        </message>
        <message>
            <source>Echo heard from {output}: {before:.0f} dB before cancellation, {delay:.0f} ms late, {after:.0f} dB after.</source>
            <translation>Echo von {output} gehört: {before:.0f} dB vor der Unterdrückung, {delay:.0f} ms verzögert, {after:.0f} dB danach.</translation>
        </message>
        <message>
            <source>Echo heard from {output}: {before:.0f} dB before cancellation, {after:.0f} dB after.</source>
            <translation>Echo von {output} gehört: {before:.0f} dB vor der Unterdrückung, {after:.0f} dB danach.</translation>
        </message>
        <message>
            <source>Microphone</source>
            <translation>Mikrofon</translation>
        </message>
        <message>
            <source>Speaker</source>
            <translation>Lautsprecher</translation>
        </message>
        <message>
            <source>Ringing device</source>
            <translation>Klingelgerät</translation>
        </message>
        <message>
            <source>System default</source>
            <translation>Systemvorgabe</translation>
        </message>
        <message>
            <source>&amp;Test</source>
            <translation>&amp;Testen</translation>
        </message>
        <message>
            <source>Play a test tone on the speaker</source>
            <translation>Einen Testton auf dem Lautsprecher abspielen</translation>
        </message>
        <message>
            <source>Play a short chime on the chosen speaker</source>
            <translation>Einen kurzen Klang auf dem gewählten Lautsprecher abspielen</translation>
        </message>
        <message>
            <source>Microphone level</source>
            <translation>Mikrofonpegel</translation>
        </message>
        <message>
            <source>What the chosen microphone hears now (-60 to 0 dBFS)</source>
            <translation>Was das gewählte Mikrofon gerade hört (-60 bis 0 dBFS)</translation>
        </message>
        <message>
            <source>&amp;Microphone:</source>
            <translation>&amp;Mikrofon:</translation>
        </message>
        <message>
            <source>Level:</source>
            <translation>Pegel:</translation>
        </message>
        <message>
            <source>&amp;Speaker:</source>
            <translation>&amp;Lautsprecher:</translation>
        </message>
        <message>
            <source>&amp;Ringing on:</source>
            <translation>&amp;Klingeln auf:</translation>
        </message>
        <message>
            <source>Ringtone</source>
            <translation>Klingelton</translation>
        </message>
        <message>
            <source>A WAV file…</source>
            <translation>Eine WAV-Datei …</translation>
        </message>
        <message>
            <source>&amp;Play</source>
            <translation>Ab&amp;spielen</translation>
        </message>
        <message>
            <source>Play the ringtone</source>
            <translation>Klingelton abspielen</translation>
        </message>
        <message>
            <source>Play the chosen ringtone on the ringing device</source>
            <translation>Den gewählten Klingelton auf dem Klingelgerät abspielen</translation>
        </message>
        <message>
            <source>Ring&amp;tone:</source>
            <translation>Klingel&amp;ton:</translation>
        </message>
        <message>
            <source>Looking for audio devices …</source>
            <translation>Audiogeräte werden gesucht …</translation>
        </message>
        <message>
            <source>Audio status</source>
            <translation>Audiostatus</translation>
        </message>
        <message>
            <source>Audio processing</source>
            <translation>Audioverarbeitung</translation>
        </message>
        <message>
            <source>Cancel the speaker's &amp;echo</source>
            <translation>&amp;Echo des Lautsprechers entfernen</translation>
        </message>
        <message>
            <source>Echo cancellation</source>
            <translation>Echounterdrückung</translation>
        </message>
        <message>
            <source>Suppress &amp;noise</source>
            <translation>&amp;Rauschen unterdrücken</translation>
        </message>
        <message>
            <source>Noise suppression</source>
            <translation>Rauschunterdrückung</translation>
        </message>
        <message>
            <source>Noise suppression level</source>
            <translation>Stärke der Rauschunterdrückung</translation>
        </message>
        <message>
            <source>&amp;High-pass filter (rumble, hum)</source>
            <translation>&amp;Hochpassfilter (Rumpeln, Brummen)</translation>
        </message>
        <message>
            <source>High-pass filter</source>
            <translation>Hochpassfilter</translation>
        </message>
        <message>
            <source>Automatic &amp;gain control</source>
            <translation>Automatische &amp;Pegelanpassung</translation>
        </message>
        <message>
            <source>Automatic gain control</source>
            <translation>Automatische Pegelanpassung</translation>
        </message>
        <message>
            <source>Test e&amp;cho</source>
            <translation>E&amp;cho testen</translation>
        </message>
        <message>
            <source>Test the echo cancellation</source>
            <translation>Die Echounterdrückung testen</translation>
        </message>
        <message>
            <source>Play a sound on the speaker and measure what comes back into the microphone</source>
            <translation>Einen Ton auf dem Lautsprecher spielen und messen, was davon im Mikrofon ankommt</translation>
        </message>
        <message>
            <source>Testing the echo: a few seconds of noise on the speaker …</source>
            <translation>Echotest: einige Sekunden Rauschen auf dem Lautsprecher …</translation>
        </message>
        <message>
            <source>The echo test could not run: {exc}</source>
            <translation>Der Echotest konnte nicht laufen: {exc}</translation>
        </message>
        <message>
            <source>No audio devices: {exc}</source>
            <translation>Keine Audiogeräte: {exc}</translation>
        </message>
        <message>
            <source>No audio devices found: calls have no sound on this computer.</source>
            <translation>Keine Audiogeräte gefunden: Gespräche haben auf diesem Computer keinen Ton.</translation>
        </message>
        <message numerus="yes">
            <source>%n microphone(s)</source>
            <translation>
                <numerusform>%n Mikrofon</numerusform>
                <numerusform>%n Mikrofone</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%n speaker(s) found.</source>
            <translation>
                <numerusform>%n Lautsprecher gefunden.</numerusform>
                <numerusform>%n Lautsprecher gefunden.</numerusform>
            </translation>
        </message>
        <message>
            <source>{chosen} (not connected)</source>
            <translation>{chosen} (nicht angeschlossen)</translation>
        </message>
        <message>
            <source>The microphone cannot be opened: {exc}</source>
            <translation>Das Mikrofon kann nicht geöffnet werden: {exc}</translation>
        </message>
        <message>
            <source>{percent} percent</source>
            <translation>{percent} Prozent</translation>
        </message>
        <message>
            <source>No speaker to play a test tone on.</source>
            <translation>Kein Lautsprecher für einen Testton.</translation>
        </message>
        <message>
            <source>Playing a test tone …</source>
            <translation>Testton wird abgespielt …</translation>
        </message>
        <message>
            <source>Test tone played on {device}.</source>
            <translation>Testton auf {device} abgespielt.</translation>
        </message>
        <message>
            <source>The test tone could not be played: {exc}</source>
            <translation>Der Testton konnte nicht abgespielt werden: {exc}</translation>
        </message>
        <message>
            <source>Choose a ringtone</source>
            <translation>Klingelton wählen</translation>
        </message>
        <message>
            <source>Choose a ringtone file</source>
            <translation>Klingeltondatei wählen</translation>
        </message>
        <message>
            <source>Reading {name} …</source>
            <translation>{name} wird gelesen …</translation>
        </message>
        <message>
            <source>Ringtone: {name}.</source>
            <translation>Klingelton: {name}.</translation>
        </message>
        <message>
            <source>Cannot use {name} as the ringtone: {exc}</source>
            <translation>{name} kann nicht als Klingelton verwendet werden: {exc}</translation>
        </message>
        <message>
            <source>Playing the ringtone …</source>
            <translation>Klingelton wird abgespielt …</translation>
        </message>
        <message>
            <source>The ringtone could not be played: {exc}</source>
            <translation>Der Klingelton konnte nicht abgespielt werden: {exc}</translation>
        </message>
    </context>
    <context>
        <name>BuddyList</name>
        <message>
            <source>Buddy list</source>
            <translation>Kontaktliste</translation>
        </message>
        <message>
            <source>Search contacts</source>
            <translation>Kontakte suchen</translation>
        </message>
        <message>
            <source>Contacts</source>
            <translation>Kontakte</translation>
        </message>
        <message>
            <source>Contacts status</source>
            <translation>Kontaktstatus</translation>
        </message>
        <message>
            <source>Add</source>
            <translation>Neu</translation>
        </message>
        <message>
            <source>Add contact</source>
            <translation>Kontakt hinzufügen</translation>
        </message>
        <message>
            <source>Add a contact</source>
            <translation>Einen Kontakt hinzufügen</translation>
        </message>
        <message>
            <source>Edit</source>
            <translation>Bearbeiten</translation>
        </message>
        <message>
            <source>Edit contact</source>
            <translation>Kontakt bearbeiten</translation>
        </message>
        <message>
            <source>Edit the selected contact</source>
            <translation>Den gewählten Kontakt bearbeiten</translation>
        </message>
        <message>
            <source>Remove</source>
            <translation>Entfernen</translation>
        </message>
        <message>
            <source>Remove contact</source>
            <translation>Kontakt entfernen</translation>
        </message>
        <message>
            <source>Remove the selected contact (Delete)</source>
            <translation>Den gewählten Kontakt entfernen (Entf)</translation>
        </message>
        <message>
            <source>Chat</source>
            <translation>Chat</translation>
        </message>
        <message>
            <source>Chat with contact</source>
            <translation>Mit dem Kontakt chatten</translation>
        </message>
        <message>
            <source>Write to the selected contact</source>
            <translation>Dem gewählten Kontakt schreiben</translation>
        </message>
        <message>
            <source>Call</source>
            <translation>Anrufen</translation>
        </message>
        <message>
            <source>Call contact</source>
            <translation>Kontakt anrufen</translation>
        </message>
        <message>
            <source>Call the selected contact (Enter, double-click)</source>
            <translation>Den gewählten Kontakt anrufen (Eingabe, Doppelklick)</translation>
        </message>
        <message>
            <source>vCard</source>
            <translation>vCard</translation>
        </message>
        <message>
            <source>Import or export vCard</source>
            <translation>vCard importieren oder exportieren</translation>
        </message>
        <message>
            <source>Import vCard…</source>
            <translation>vCard importieren …</translation>
        </message>
        <message>
            <source>Export vCard…</source>
            <translation>vCard exportieren …</translation>
        </message>
        <message>
            <source>Cannot read the contacts: {exc}</source>
            <translation>Die Kontakte können nicht gelesen werden: {exc}</translation>
        </message>
        <message>
            <source>On the LAN this phone is “{name}”: “{requested}” was taken by another phone.</source>
            <translation>Im LAN heißt dieses Telefon „{name}“: „{requested}“ hat schon ein anderes Telefon.</translation>
        </message>
        <message>
            <source>Cannot announce this phone on the LAN: {reason}</source>
            <translation>Dieses Telefon kann nicht im LAN bekannt gegeben werden: {reason}</translation>
        </message>
        <message>
            <source>Presence is not available</source>
            <translation>Anwesenheit ist nicht verfügbar</translation>
        </message>
        <message>
            <source>{name} has no SIP address to write to</source>
            <translation>{name} hat keine SIP-Adresse zum Schreiben</translation>
        </message>
        <message>
            <source>Call {address}</source>
            <translation>{address} anrufen</translation>
        </message>
        <message>
            <source>Add to contacts…</source>
            <translation>Zu Kontakten hinzufügen …</translation>
        </message>
        <message>
            <source>Edit…</source>
            <translation>Bearbeiten …</translation>
        </message>
        <message>
            <source>Remove…</source>
            <translation>Entfernen …</translation>
        </message>
        <message>
            <source>Add contact…</source>
            <translation>Kontakt hinzufügen …</translation>
        </message>
        <message>
            <source>No contact store</source>
            <translation>Kein Kontaktspeicher</translation>
        </message>
        <message>
            <source>Cannot save the contact: {exc}</source>
            <translation>Der Kontakt kann nicht gespeichert werden: {exc}</translation>
        </message>
        <message>
            <source>Saved {name}</source>
            <translation>{name} gespeichert</translation>
        </message>
        <message>
            <source>Remove {name} from your contacts?</source>
            <translation>{name} aus Ihren Kontakten entfernen?</translation>
        </message>
        <message>
            <source>Yes, remove</source>
            <translation>Ja, entfernen</translation>
        </message>
        <message>
            <source>No, keep</source>
            <translation>Nein, behalten</translation>
        </message>
        <message>
            <source>Cannot remove the contact: {exc}</source>
            <translation>Der Kontakt kann nicht entfernt werden: {exc}</translation>
        </message>
        <message>
            <source>Removed {name}</source>
            <translation>{name} entfernt</translation>
        </message>
        <message>
            <source>Import contacts</source>
            <translation>Kontakte importieren</translation>
        </message>
        <message>
            <source>Export contacts</source>
            <translation>Kontakte exportieren</translation>
        </message>
        <message>
            <source>Cannot import {path}: {exc}</source>
            <translation>{path} kann nicht importiert werden: {exc}</translation>
        </message>
        <message>
            <source>Cannot export to {path}: {exc}</source>
            <translation>Export nach {path} nicht möglich: {exc}</translation>
        </message>
        <message numerus="yes">
            <source>Exported %n contact(s) to {path}</source>
            <translation>
                <numerusform>%n Kontakt nach {path} exportiert</numerusform>
                <numerusform>%n Kontakte nach {path} exportiert</numerusform>
            </translation>
        </message>
        <message>
            <source>OK</source>
            <translation>OK</translation>
        </message>
        <message>
            <source>{count} added</source>
            <translation>{count} hinzugefügt</translation>
        </message>
        <message>
            <source>{count} updated</source>
            <translation>{count} aktualisiert</translation>
        </message>
        <message>
            <source>{count} unchanged</source>
            <translation>{count} unverändert</translation>
        </message>
        <message>
            <source>{count} skipped</source>
            <translation>{count} übersprungen</translation>
        </message>
        <message numerus="yes">
            <source>%n card(s) read:</source>
            <translation>
                <numerusform>%n Karte gelesen:</numerusform>
                <numerusform>%n Karten gelesen:</numerusform>
            </translation>
        </message>
        <message>
            <source>Card {number}: {reason}</source>
            <translation>Karte {number}: {reason}</translation>
        </message>
        <message>
            <source>… and {count} more skipped</source>
            <translation>… und {count} weitere übersprungen</translation>
        </message>
    </context>
    <context>
        <name>BuddyModel</name>
        <message>
            <source>Contacts</source>
            <translation>Kontakte</translation>
        </message>
        <message>
            <source>Nearby</source>
            <translation>In der Nähe</translation>
        </message>
        <message>
            <source>Line free</source>
            <translation>Leitung frei</translation>
        </message>
        <message>
            <source>Ringing</source>
            <translation>Klingelt</translation>
        </message>
        <message>
            <source>On a call</source>
            <translation>Im Gespräch</translation>
        </message>
        <message>
            <source>Line unknown</source>
            <translation>Leitung unbekannt</translation>
        </message>
        <message>
            <source>Offline</source>
            <translation>Offline</translation>
        </message>
        <message>
            <source>Unknown</source>
            <translation>Unbekannt</translation>
        </message>
        <message>
            <source>On the phone</source>
            <translation>Am Telefon</translation>
        </message>
        <message>
            <source>Busy</source>
            <translation>Beschäftigt</translation>
        </message>
        <message>
            <source>Available</source>
            <translation>Verfügbar</translation>
        </message>
        <message>
            <source>Away</source>
            <translation>Abwesend</translation>
        </message>
        <message>
            <source>Name</source>
            <translation>Name</translation>
        </message>
        <message>
            <source>Presence</source>
            <translation>Anwesenheit</translation>
        </message>
        <message>
            <source>Line</source>
            <translation>Leitung</translation>
        </message>
        <message numerus="yes">
            <source>Group {group}, %n contact(s)</source>
            <translation>
                <numerusform>Gruppe {group}, %n Kontakt</numerusform>
                <numerusform>Gruppe {group}, %n Kontakte</numerusform>
            </translation>
        </message>
        <message>
            <source>On this network, takes no calls</source>
            <translation>In diesem Netz, nimmt keine Anrufe an</translation>
        </message>
        <message>
            <source>On this network</source>
            <translation>In diesem Netz</translation>
        </message>
        <message>
            <source>Waiting for authorisation</source>
            <translation>Wartet auf Freigabe</translation>
        </message>
        <message>
            <source>Presence refused</source>
            <translation>Anwesenheit verweigert</translation>
        </message>
        <message>
            <source>Unknown address</source>
            <translation>Unbekannte Adresse</translation>
        </message>
        <message>
            <source>Presence unavailable</source>
            <translation>Anwesenheit nicht verfügbar</translation>
        </message>
        <message>
            <source>Presence not shown</source>
            <translation>Anwesenheit nicht angezeigt</translation>
        </message>
        <message>
            <source>Presence of {name}: {presence}</source>
            <translation>Anwesenheit von {name}: {presence}</translation>
        </message>
        <message>
            <source>Line of {name}: {line}</source>
            <translation>Leitung von {name}: {line}</translation>
        </message>
        <message>
            <source>not watched</source>
            <translation>nicht beobachtet</translation>
        </message>
    </context>
    <context>
        <name>CallRow</name>
        <message>
            <source>calling …</source>
            <translation>ruft an …</translation>
        </message>
        <message>
            <source>ringing …</source>
            <translation>klingelt …</translation>
        </message>
        <message>
            <source>ringing (early media) …</source>
            <translation>klingelt (Early Media) …</translation>
        </message>
        <message>
            <source>connected</source>
            <translation>verbunden</translation>
        </message>
        <message>
            <source>on hold</source>
            <translation>gehalten</translation>
        </message>
        <message>
            <source>ended</source>
            <translation>beendet</translation>
        </message>
        <message>
            <source>Call with {remote_text}</source>
            <translation>Gespräch mit {remote_text}</translation>
        </message>
        <message>
            <source>Remote party</source>
            <translation>Gegenstelle</translation>
        </message>
        <message>
            <source>Remote address</source>
            <translation>Adresse der Gegenstelle</translation>
        </message>
        <message>
            <source>Call state</source>
            <translation>Gesprächsstatus</translation>
        </message>
        <message>
            <source>0:00</source>
            <translation>0:00</translation>
        </message>
        <message>
            <source>Call duration</source>
            <translation>Gesprächsdauer</translation>
        </message>
        <message>
            <source>Encryption icon</source>
            <translation>Verschlüsselungssymbol</translation>
        </message>
        <message>
            <source>Encryption</source>
            <translation>Verschlüsselung</translation>
        </message>
        <message>
            <source>Mute</source>
            <translation>Stumm</translation>
        </message>
        <message>
            <source>Mute the microphone (Ctrl+M)</source>
            <translation>Mikrofon stummschalten (Strg+M)</translation>
        </message>
        <message>
            <source>Hold</source>
            <translation>Halten</translation>
        </message>
        <message>
            <source>Hold / resume (Ctrl+H)</source>
            <translation>Halten / fortsetzen (Strg+H)</translation>
        </message>
        <message>
            <source>Keypad</source>
            <translation>Tasten</translation>
        </message>
        <message>
            <source>DTMF keypad</source>
            <translation>DTMF-Tastenfeld</translation>
        </message>
        <message>
            <source>DTMF keypad (Ctrl+K)</source>
            <translation>DTMF-Tastenfeld (Strg+K)</translation>
        </message>
        <message>
            <source>Transfer</source>
            <translation>Weiterleiten</translation>
        </message>
        <message>
            <source>Blind transfer</source>
            <translation>Blindes Weiterleiten</translation>
        </message>
        <message>
            <source>Blind transfer (Ctrl+T)</source>
            <translation>Blind weiterleiten (Strg+T)</translation>
        </message>
        <message>
            <source>Connect</source>
            <translation>Verbinden</translation>
        </message>
        <message>
            <source>Attended transfer</source>
            <translation>Vermittlung mit Rückfrage</translation>
        </message>
        <message>
            <source>Attended transfer to another call (Ctrl+Shift+T)</source>
            <translation>Mit Rückfrage an ein anderes Gespräch vermitteln (Strg+Umschalt+T)</translation>
        </message>
        <message>
            <source>Record</source>
            <translation>Aufnehmen</translation>
        </message>
        <message>
            <source>Record the call (Ctrl+R)</source>
            <translation>Gespräch aufnehmen (Strg+R)</translation>
        </message>
        <message>
            <source>Hang up</source>
            <translation>Auflegen</translation>
        </message>
        <message>
            <source>Hang up (Ctrl+E)</source>
            <translation>Auflegen (Strg+E)</translation>
        </message>
        <message>
            <source>Split</source>
            <translation>Trennen</translation>
        </message>
        <message>
            <source>Split from the conference</source>
            <translation>Aus der Konferenz trennen</translation>
        </message>
        <message>
            <source>Take this call out of the conference</source>
            <translation>Dieses Gespräch aus der Konferenz nehmen</translation>
        </message>
        <message>
            <source>Microphone level as sent</source>
            <translation>Mikrofonpegel wie gesendet</translation>
        </message>
        <message>
            <source>after echo cancellation, noise suppression and gain</source>
            <translation>nach Echo- und Rauschunterdrückung und Pegelanpassung</translation>
        </message>
        <message>
            <source>Speaker level</source>
            <translation>Lautsprecherpegel</translation>
        </message>
        <message>
            <source>Quality: waiting for media …</source>
            <translation>Qualität: wartet auf Medien …</translation>
        </message>
        <message>
            <source>Call quality</source>
            <translation>Gesprächsqualität</translation>
        </message>
        <message>
            <source>Media warning</source>
            <translation>Medienwarnung</translation>
        </message>
        <message>
            <source>Transfer status</source>
            <translation>Weiterleitungsstatus</translation>
        </message>
        <message>
            <source>held by the other party</source>
            <translation>von der Gegenseite gehalten</translation>
        </message>
        <message>
            <source>ended: {why}</source>
            <translation>beendet: {why}</translation>
        </message>
        <message>
            <source>conference</source>
            <translation>Konferenz</translation>
        </message>
        <message>
            <source>Encrypted</source>
            <translation>Verschlüsselt</translation>
        </message>
        <message>
            <source>Not encrypted</source>
            <translation>Nicht verschlüsselt</translation>
        </message>
        <message>
            <source>Resume</source>
            <translation>Fortsetzen</translation>
        </message>
        <message>
            <source>MOS {mos:.1f} · loss {loss_percent:.1f} % · jitter {jitter_ms:.0f} ms · RTT {rtt}</source>
            <translation>MOS {mos:.1f} · Verlust {loss_percent:.1f} % · Jitter {jitter_ms:.0f} ms · RTT {rtt}</translation>
        </message>
        <message>
            <source>Media path: {local} → {remote}</source>
            <translation>Medienweg: {local} → {remote}</translation>
        </message>
        <message>
            <source>direct</source>
            <translation>direkt</translation>
        </message>
        <message>
            <source>through the NAT</source>
            <translation>durch das NAT</translation>
        </message>
        <message>
            <source>relayed (TURN)</source>
            <translation>über Relay (TURN)</translation>
        </message>
        <message>
            <source>to the SDP address</source>
            <translation>an die SDP-Adresse</translation>
        </message>
        <message>
            <source>finding a path</source>
            <translation>Weg wird gesucht</translation>
        </message>
        <message>
            <source>no path</source>
            <translation>kein Weg</translation>
        </message>
        <message>
            <source>One-way audio:</source>
            <translation>Ton nur in eine Richtung:</translation>
        </message>
        <message>
            <source>Stop rec.</source>
            <translation>Aufn. stoppen</translation>
        </message>
        <message>
            <source>Stop recording</source>
            <translation>Aufnahme beenden</translation>
        </message>
        <message>
            <source>Recording saved: {path} ({seconds:.0f} s)</source>
            <translation>Aufnahme gespeichert: {path} ({seconds:.0f} s)</translation>
        </message>
        <message>
            <source>incomplete: {error}</source>
            <translation>unvollständig: {error}</translation>
        </message>
        <message>
            <source>Transfer to {target}: {state}{code}</source>
            <translation>Weiterleitung an {target}: {state}{code}</translation>
        </message>
        <message>
            <source>Unmute</source>
            <translation>Ton an</translation>
        </message>
        <message>
            <source>Transferring to {target} …</source>
            <translation>Wird an {target} weitergeleitet …</translation>
        </message>
        <message>
            <source>Connecting the calls …</source>
            <translation>Gespräche werden verbunden …</translation>
        </message>
        <message>
            <source>hanging up …</source>
            <translation>wird aufgelegt …</translation>
        </message>
    </context>
    <context>
        <name>CallWindow</name>
        <message>
            <source>Calls — Softphone</source>
            <translation>Gespräche — Softphone</translation>
        </message>
        <message>
            <source>Calls</source>
            <translation>Gespräche</translation>
        </message>
        <message>
            <source>Call error</source>
            <translation>Gesprächsfehler</translation>
        </message>
        <message>
            <source>&amp;Merge calls</source>
            <translation>Gespräche &amp;zusammenführen</translation>
        </message>
        <message>
            <source>Merge calls into a conference</source>
            <translation>Gespräche zu einer Konferenz zusammenführen</translation>
        </message>
        <message>
            <source>Merge the established calls into a conference ({keys})</source>
            <translation>Die verbundenen Gespräche zu einer Konferenz zusammenführen ({keys})</translation>
        </message>
        <message>
            <source>Cannot create {folder}: {error}</source>
            <translation>{folder} kann nicht angelegt werden: {error}</translation>
        </message>
    </context>
    <context>
        <name>CallsPage</name>
        <message>
            <source>Always</source>
            <translation>Immer</translation>
        </message>
        <message>
            <source>When busy</source>
            <translation>Wenn besetzt</translation>
        </message>
        <message>
            <source>When not answered</source>
            <translation>Wenn nicht angenommen</translation>
        </message>
        <message>
            <source>Answering</source>
            <translation>Annehmen</translation>
        </message>
        <message>
            <source>&amp;Answer calls automatically after</source>
            <translation>Anrufe automatisch &amp;annehmen nach</translation>
        </message>
        <message>
            <source>Auto-answer</source>
            <translation>Automatisch annehmen</translation>
        </message>
        <message>
            <source> s</source>
            <translation> s</translation>
        </message>
        <message>
            <source>Auto-answer delay in seconds</source>
            <translation>Verzögerung der automatischen Annahme in Sekunden</translation>
        </message>
        <message>
            <source>Do &amp;not disturb: callers hear busy (or are forwarded when busy)</source>
            <translation>&amp;Nicht stören: Anrufer hören besetzt (oder werden bei besetzt weitergeleitet)</translation>
        </message>
        <message>
            <source>Do not disturb</source>
            <translation>Nicht stören</translation>
        </message>
        <message>
            <source>Forwarding</source>
            <translation>Rufumleitung</translation>
        </message>
        <message>
            <source>Forward {lower}</source>
            <translation>Umleiten: {lower}</translation>
        </message>
        <message>
            <source>sip:voicemail@example.com or a number</source>
            <translation>sip:voicemail@example.com oder eine Nummer</translation>
        </message>
        <message>
            <source>Forward {lower} to</source>
            <translation>Umleiten ({lower}) an</translation>
        </message>
        <message>
            <source>Forward when not answered after, seconds</source>
            <translation>Umleiten, wenn nicht angenommen, nach Sekunden</translation>
        </message>
        <message>
            <source>after</source>
            <translation>nach</translation>
        </message>
        <message>
            <source>Forwarded callers are redirected (302) to the target; their phone calls it.</source>
            <translation>Umgeleitete Anrufer werden an das Ziel verwiesen (302); ihr Telefon ruft es an.</translation>
        </message>
    </context>
    <context>
        <name>Certificate</name>
        <message>
            <source>nobody we trust vouches for it (it may be self-signed)</source>
            <translation>niemand, dem wir vertrauen, bürgt dafür (es kann selbstsigniert sein)</translation>
        </message>
        <message>
            <source>it was issued for another name</source>
            <translation>es wurde für einen anderen Namen ausgestellt</translation>
        </message>
        <message>
            <source>it has expired</source>
            <translation>es ist abgelaufen</translation>
        </message>
        <message>
            <source>it is not valid yet</source>
            <translation>es ist noch nicht gültig</translation>
        </message>
        <message>
            <source>it is not acceptable</source>
            <translation>es ist nicht annehmbar</translation>
        </message>
        <message>
            <source>Untrusted server certificate</source>
            <translation>Nicht vertrauenswürdiges Serverzertifikat</translation>
        </message>
        <message>
            <source>The server of {aor} presented a certificate that was not accepted: {why}.</source>
            <translation>Der Server von {aor} hat ein Zertifikat vorgelegt, das nicht akzeptiert wurde: {why}.</translation>
        </message>
        <message>
            <source>Trust it only if this fingerprint matches the one your provider gave you (SHA-256):</source>
            <translation>Vertrauen Sie ihm nur, wenn dieser Fingerabdruck mit dem Ihres Anbieters übereinstimmt (SHA-256):</translation>
        </message>
        <message>
            <source>Trust this certificate</source>
            <translation>Diesem Zertifikat vertrauen</translation>
        </message>
    </context>
    <context>
        <name>ChatWindow</name>
        <message>
            <source>⏳ Queued</source>
            <translation>⏳ Wartet</translation>
        </message>
        <message>
            <source>… Sending</source>
            <translation>… Wird gesendet</translation>
        </message>
        <message>
            <source>✓ Sent</source>
            <translation>✓ Gesendet</translation>
        </message>
        <message>
            <source>✗ Failed</source>
            <translation>✗ Fehlgeschlagen</translation>
        </message>
        <message>
            <source>Chat</source>
            <translation>Chat</translation>
        </message>
        <message>
            <source>Chat window</source>
            <translation>Chatfenster</translation>
        </message>
        <message>
            <source>Write to: name, number or sip: address</source>
            <translation>Schreiben an: Name, Nummer oder sip:-Adresse</translation>
        </message>
        <message>
            <source>Address to write to</source>
            <translation>Adresse für die Nachricht</translation>
        </message>
        <message>
            <source>New chat</source>
            <translation>Neuer Chat</translation>
        </message>
        <message>
            <source>Start a conversation</source>
            <translation>Ein Gespräch beginnen</translation>
        </message>
        <message>
            <source>Conversations</source>
            <translation>Unterhaltungen</translation>
        </message>
        <message>
            <source>Chat status</source>
            <translation>Chatstatus</translation>
        </message>
        <message>
            <source>Close the conversation with {name}</source>
            <translation>Unterhaltung mit {name} schließen</translation>
        </message>
        <message>
            <source>Write an address: a name, a number or sip:user@host</source>
            <translation>Schreiben Sie eine Adresse: einen Namen, eine Nummer oder sip:benutzer@host</translation>
        </message>
        <message>
            <source>Conversation with {name}</source>
            <translation>Unterhaltung mit {name}</translation>
        </message>
        <message>
            <source>{count} unread</source>
            <translation>{count} ungelesen</translation>
        </message>
        <message>
            <source>Chat — {name}</source>
            <translation>Chat — {name}</translation>
        </message>
        <message>
            <source>{title} ({count} unread)</source>
            <translation>{title} ({count} ungelesen)</translation>
        </message>
        <message>
            <source>Message from {name}</source>
            <translation>Nachricht von {name}</translation>
        </message>
        <message>
            <source>Message request</source>
            <translation>Nachrichtenanfrage</translation>
        </message>
        <message>
            <source>from {sender} (not a verified contact)</source>
            <translation>von {sender} (kein bestätigter Kontakt)</translation>
        </message>
    </context>
    <context>
        <name>CodecsPage</name>
        <message>
            <source>Opus — wideband, robust to loss</source>
            <translation>Opus — Breitband, robust bei Verlusten</translation>
        </message>
        <message>
            <source>G.722 — wideband (HD voice), widely supported</source>
            <translation>G.722 — Breitband (HD-Sprache), weit verbreitet</translation>
        </message>
        <message>
            <source>G.711 µ-law (PCMU) — narrowband, everywhere</source>
            <translation>G.711 µ-law (PCMU) — Schmalband, überall</translation>
        </message>
        <message>
            <source>G.711 A-law (PCMA) — narrowband, everywhere</source>
            <translation>G.711 A-law (PCMA) — Schmalband, überall</translation>
        </message>
        <message>
            <source>Offered in this order (the first one the other phone has is used):</source>
            <translation>In dieser Reihenfolge angeboten (der erste, den das andere Telefon kann, wird verwendet):</translation>
        </message>
        <message>
            <source>Codec order</source>
            <translation>Codec-Reihenfolge</translation>
        </message>
        <message>
            <source>&amp;Up</source>
            <translation>Nach &amp;oben</translation>
        </message>
        <message>
            <source>Move codec up</source>
            <translation>Codec nach oben</translation>
        </message>
        <message>
            <source>&amp;Down</source>
            <translation>Nach &amp;unten</translation>
        </message>
        <message>
            <source>Move codec down</source>
            <translation>Codec nach unten</translation>
        </message>
        <message>
            <source>Telephone events (DTMF, RFC 4733) are always offered with each codec.</source>
            <translation>Telefonereignisse (DTMF, RFC 4733) werden mit jedem Codec angeboten.</translation>
        </message>
    </context>
    <context>
        <name>ContactDialog</name>
        <message>
            <source>Edit contact</source>
            <translation>Kontakt bearbeiten</translation>
        </message>
        <message>
            <source>Add contact</source>
            <translation>Kontakt hinzufügen</translation>
        </message>
        <message>
            <source>Name</source>
            <translation>Name</translation>
        </message>
        <message>
            <source>SIP addresses, one per line</source>
            <translation>SIP-Adressen, eine pro Zeile</translation>
        </message>
        <message>
            <source>sip:alice@example.com</source>
            <translation>sip:alice@example.com</translation>
        </message>
        <message>
            <source>Phone numbers, one per line</source>
            <translation>Telefonnummern, eine pro Zeile</translation>
        </message>
        <message>
            <source>Groups, separated by commas</source>
            <translation>Gruppen, durch Kommas getrennt</translation>
        </message>
        <message>
            <source>Friends, Work</source>
            <translation>Freunde, Arbeit</translation>
        </message>
        <message>
            <source>Notes</source>
            <translation>Notizen</translation>
        </message>
        <message>
            <source>Show presence and busy lamp</source>
            <translation>Anwesenheit und Besetztlampe zeigen</translation>
        </message>
        <message>
            <source>Photo</source>
            <translation>Foto</translation>
        </message>
        <message>
            <source>Photo file</source>
            <translation>Fotodatei</translation>
        </message>
        <message>
            <source>image file (PNG, JPEG)</source>
            <translation>Bilddatei (PNG, JPEG)</translation>
        </message>
        <message>
            <source>Choose…</source>
            <translation>Wählen …</translation>
        </message>
        <message>
            <source>Choose a photo file</source>
            <translation>Eine Fotodatei wählen</translation>
        </message>
        <message>
            <source>No photo</source>
            <translation>Kein Foto</translation>
        </message>
        <message>
            <source>Remove the photo</source>
            <translation>Das Foto entfernen</translation>
        </message>
        <message>
            <source>Problem</source>
            <translation>Problem</translation>
        </message>
        <message>
            <source>&amp;Name:</source>
            <translation>&amp;Name:</translation>
        </message>
        <message>
            <source>SIP &amp;addresses:</source>
            <translation>SIP-&amp;Adressen:</translation>
        </message>
        <message>
            <source>&amp;Numbers:</source>
            <translation>N&amp;ummern:</translation>
        </message>
        <message>
            <source>&amp;Groups:</source>
            <translation>&amp;Gruppen:</translation>
        </message>
        <message>
            <source>N&amp;otes:</source>
            <translation>N&amp;otizen:</translation>
        </message>
        <message>
            <source>Photo:</source>
            <translation>Foto:</translation>
        </message>
        <message>
            <source>Choose a photo</source>
            <translation>Ein Foto wählen</translation>
        </message>
        <message>
            <source>Cannot read the photo: {error}</source>
            <translation>Das Foto kann nicht gelesen werden: {error}</translation>
        </message>
        <message>
            <source>The photo is not an image this program can read (or larger than 2 MB)</source>
            <translation>Das Foto ist kein Bild, das dieses Programm lesen kann (oder größer als 2 MB)</translation>
        </message>
        <message>
            <source>Give a name, a SIP address or a number</source>
            <translation>Geben Sie einen Namen, eine SIP-Adresse oder eine Nummer an</translation>
        </message>
        <message>
            <source>{uri} is not an address (write sip:user@host or user@host)</source>
            <translation>{uri} ist keine Adresse (schreiben Sie sip:benutzer@host oder benutzer@host)</translation>
        </message>
    </context>
    <context>
        <name>Conversation</name>
        <message>
            <source>Conversation with {name}</source>
            <translation>Unterhaltung mit {name}</translation>
        </message>
        <message>
            <source>Address</source>
            <translation>Adresse</translation>
        </message>
        <message>
            <source>Call</source>
            <translation>Anrufen</translation>
        </message>
        <message>
            <source>Call {name}</source>
            <translation>{name} anrufen</translation>
        </message>
        <message>
            <source>Messages with {name}</source>
            <translation>Nachrichten mit {name}</translation>
        </message>
        <message>
            <source>Typing</source>
            <translation>Schreibt</translation>
        </message>
        <message>
            <source>Message to {name}</source>
            <translation>Nachricht an {name}</translation>
        </message>
        <message>
            <source>Write a message (Enter sends, Shift+Enter for a new line)</source>
            <translation>Nachricht schreiben (Eingabe sendet, Umschalt+Eingabe für eine neue Zeile)</translation>
        </message>
        <message>
            <source>Send</source>
            <translation>Senden</translation>
        </message>
        <message>
            <source>Send message</source>
            <translation>Nachricht senden</translation>
        </message>
        <message>
            <source>You</source>
            <translation>Sie</translation>
        </message>
        <message>
            <source>{problem}
{when}</source>
            <translation>{problem}
{when}</translation>
        </message>
        <message>
            <source>Cannot load the history: {exc}</source>
            <translation>Der Verlauf kann nicht geladen werden: {exc}</translation>
        </message>
        <message>
            <source>{name} is typing…</source>
            <translation>{name} schreibt …</translation>
        </message>
        <message>
            <source>{name} is typing</source>
            <translation>{name} schreibt</translation>
        </message>
    </context>
    <context>
        <name>DialPad</name>
        <message>
            <source>Key {key}</source>
            <translation>Taste {key}</translation>
        </message>
    </context>
    <context>
        <name>GeneralPage</name>
        <message>
            <source>&amp;Start the softphone when I log in</source>
            <translation>Softphone beim Anmelden &amp;starten</translation>
        </message>
        <message>
            <source>Start at login</source>
            <translation>Beim Anmelden starten</translation>
        </message>
        <message>
            <source>Adds {shown} (the desktop's autostart folder).</source>
            <translation>Legt {shown} an (den Autostart-Ordner der Arbeitsumgebung).</translation>
        </message>
        <message>
            <source>Settings file: {settings_path}</source>
            <translation>Einstellungsdatei: {settings_path}</translation>
        </message>
        <message>
            <source>Start at login could not be changed: {error}</source>
            <translation>Der Start beim Anmelden konnte nicht geändert werden: {error}</translation>
        </message>
    </context>
    <context>
        <name>HistoryView</name>
        <message>
            <source>answered</source>
            <translation>angenommen</translation>
        </message>
        <message>
            <source>missed</source>
            <translation>verpasst</translation>
        </message>
        <message>
            <source>declined</source>
            <translation>abgelehnt</translation>
        </message>
        <message>
            <source>busy</source>
            <translation>besetzt</translation>
        </message>
        <message>
            <source>failed</source>
            <translation>fehlgeschlagen</translation>
        </message>
        <message>
            <source>cancelled</source>
            <translation>abgebrochen</translation>
        </message>
        <message>
            <source>forwarded</source>
            <translation>umgeleitet</translation>
        </message>
        <message>
            <source>answered-elsewhere</source>
            <translation>anderswo angenommen</translation>
        </message>
        <message>
            <source>Missed</source>
            <translation>Verpasst</translation>
        </message>
        <message>
            <source>Double-click to call back.</source>
            <translation>Doppelklick ruft zurück.</translation>
        </message>
        <message>
            <source>Outgoing</source>
            <translation>Ausgehend</translation>
        </message>
        <message>
            <source>Incoming</source>
            <translation>Eingehend</translation>
        </message>
    </context>
    <context>
        <name>IncomingCallWindow</name>
        <message>
            <source>Incoming call from {who}</source>
            <translation>Anruf von {who}</translation>
        </message>
        <message>
            <source>Incoming call</source>
            <translation>Eingehender Anruf</translation>
        </message>
        <message>
            <source>Caller photo</source>
            <translation>Foto des Anrufers</translation>
        </message>
        <message>
            <source>Caller name</source>
            <translation>Name des Anrufers</translation>
        </message>
        <message>
            <source>Caller address</source>
            <translation>Adresse des Anrufers</translation>
        </message>
        <message>
            <source>Identity: {asserted_identity}</source>
            <translation>Identität: {asserted_identity}</translation>
        </message>
        <message>
            <source>Asserted identity</source>
            <translation>Bestätigte Identität</translation>
        </message>
        <message>
            <source>is calling you</source>
            <translation>ruft Sie an</translation>
        </message>
        <message>
            <source>is calling you with video</source>
            <translation>ruft Sie mit Video an</translation>
        </message>
        <message>
            <source>Call status</source>
            <translation>Anrufstatus</translation>
        </message>
        <message>
            <source>Calls waiting</source>
            <translation>Wartende Anrufe</translation>
        </message>
        <message>
            <source>&amp;Answer</source>
            <translation>&amp;Annehmen</translation>
        </message>
        <message>
            <source>Answer</source>
            <translation>Annehmen</translation>
        </message>
        <message>
            <source>Answer (Ctrl+Return)</source>
            <translation>Annehmen (Strg+Eingabe)</translation>
        </message>
        <message>
            <source>&amp;Decline</source>
            <translation>Ab&amp;lehnen</translation>
        </message>
        <message>
            <source>Decline</source>
            <translation>Ablehnen</translation>
        </message>
        <message>
            <source>Decline (Ctrl+D)</source>
            <translation>Ablehnen (Strg+D)</translation>
        </message>
        <message>
            <source>&amp;Busy</source>
            <translation>&amp;Besetzt</translation>
        </message>
        <message>
            <source>Answer &amp;without video</source>
            <translation>Ohne &amp;Video annehmen</translation>
        </message>
        <message>
            <source>Answer without video</source>
            <translation>Ohne Video annehmen</translation>
        </message>
        <message>
            <source>Answer with audio only; the video is declined (Ctrl+Shift+Return)</source>
            <translation>Nur mit Ton annehmen; das Video wird abgelehnt (Strg+Umschalt+Eingabe)</translation>
        </message>
        <message>
            <source>&amp;Answer with video</source>
            <translation>Mit Video &amp;annehmen</translation>
        </message>
        <message>
            <source>Answer with video</source>
            <translation>Mit Video annehmen</translation>
        </message>
        <message>
            <source>Busy</source>
            <translation>Beschäftigt</translation>
        </message>
        <message>
            <source>Reply busy (Ctrl+B)</source>
            <translation>Besetzt melden (Strg+B)</translation>
        </message>
        <message numerus="yes">
            <source>%n more call(s) waiting</source>
            <translation>
                <numerusform>%n weiterer Anruf wartet</numerusform>
                <numerusform>%n weitere Anrufe warten</numerusform>
            </translation>
        </message>
        <message>
            <source>answering …</source>
            <translation>wird angenommen …</translation>
        </message>
        <message>
            <source>answering without video …</source>
            <translation>wird ohne Video angenommen …</translation>
        </message>
        <message>
            <source>declining …</source>
            <translation>wird abgelehnt …</translation>
        </message>
        <message>
            <source>replying busy …</source>
            <translation>meldet besetzt …</translation>
        </message>
    </context>
    <context>
        <name>IncomingCalls</name>
        <message>
            <source>Incoming call from {who}</source>
            <translation>Anruf von {who}</translation>
        </message>
        <message>
            <source>{address}
Click to answer.</source>
            <translation>{address}
Klicken zum Annehmen.</translation>
        </message>
        <message>
            <source>Missed call</source>
            <translation>Verpasster Anruf</translation>
        </message>
    </context>
    <context>
        <name>LadderView</name>
        <message>
            <source>This phone</source>
            <translation>Dieses Telefon</translation>
        </message>
        <message>
            <source>Ladder diagram</source>
            <translation>Leiterdiagramm</translation>
        </message>
        <message numerus="yes">
            <source>%n message(s) between this phone and {parties}</source>
            <translation>
                <numerusform>%n Nachricht zwischen diesem Telefon und {parties}</numerusform>
                <numerusform>%n Nachrichten zwischen diesem Telefon und {parties}</numerusform>
            </translation>
        </message>
        <message>
            <source>nobody yet</source>
            <translation>noch niemandem</translation>
        </message>
        <message>
            <source>{direction} {label} ({party}), {time}</source>
            <translation>{direction} {label} ({party}), {time}</translation>
        </message>
        <message>
            <source>Choose a dialog on the left; its messages appear here as they come.</source>
            <translation>Wählen Sie links einen Dialog; seine Nachrichten erscheinen hier, sobald sie kommen.</translation>
        </message>
    </context>
    <context>
        <name>MainWindow</name>
        <message numerus="yes">
            <source>%n missed call(s) — Softphone</source>
            <translation>
                <numerusform>%n verpasster Anruf — Softphone</numerusform>
                <numerusform>%n verpasste Anrufe — Softphone</numerusform>
            </translation>
        </message>
        <message>
            <source>Softphone</source>
            <translation>Softphone</translation>
        </message>
        <message>
            <source>Softphone main window</source>
            <translation>Hauptfenster von Softphone</translation>
        </message>
        <message>
            <source>Dial pad</source>
            <translation>Wähltasten</translation>
        </message>
        <message>
            <source>Voice messages</source>
            <translation>Sprachnachrichten</translation>
        </message>
        <message>
            <source>Contacts and history</source>
            <translation>Kontakte und Verlauf</translation>
        </message>
        <message>
            <source>Contacts</source>
            <translation>Kontakte</translation>
        </message>
        <message>
            <source>History</source>
            <translation>Verlauf</translation>
        </message>
        <message>
            <source>Softphone {version}</source>
            <translation>Softphone {version}</translation>
        </message>
        <message>
            <source>Version</source>
            <translation>Version</translation>
        </message>
        <message>
            <source>&amp;File</source>
            <translation>&amp;Datei</translation>
        </message>
        <message>
            <source>&amp;Quit</source>
            <translation>&amp;Beenden</translation>
        </message>
        <message>
            <source>Hang up, sign out and close the softphone</source>
            <translation>Auflegen, abmelden und Softphone schließen</translation>
        </message>
        <message>
            <source>&amp;Tools</source>
            <translation>&amp;Extras</translation>
        </message>
        <message>
            <source>&amp;Settings…</source>
            <translation>&amp;Einstellungen …</translation>
        </message>
        <message>
            <source>SIP &amp;trace</source>
            <translation>SIP-&amp;Mitschnitt</translation>
        </message>
        <message>
            <source>&amp;Help</source>
            <translation>&amp;Hilfe</translation>
        </message>
        <message>
            <source>&amp;Documentation</source>
            <translation>&amp;Dokumentation</translation>
        </message>
        <message>
            <source>&amp;About Softphone</source>
            <translation>&amp;Über Softphone</translation>
        </message>
        <message>
            <source>More menus</source>
            <translation>Weitere Menüs</translation>
        </message>
        <message>
            <source>The documentation could not be opened.</source>
            <translation>Die Dokumentation konnte nicht geöffnet werden.</translation>
        </message>
        <message>
            <source>Name, number or sip: address</source>
            <translation>Name, Nummer oder sip:-Adresse</translation>
        </message>
        <message>
            <source>Number or address to call</source>
            <translation>Nummer oder Adresse zum Anrufen</translation>
        </message>
        <message>
            <source>&amp;Call</source>
            <translation>An&amp;rufen</translation>
        </message>
        <message>
            <source>Call</source>
            <translation>Anrufen</translation>
        </message>
        <message>
            <source>Call the number or address (Enter)</source>
            <translation>Die Nummer oder Adresse anrufen (Eingabe)</translation>
        </message>
        <message>
            <source>Pad</source>
            <translation>Tasten</translation>
        </message>
        <message>
            <source>Show dial pad</source>
            <translation>Wähltasten zeigen</translation>
        </message>
        <message>
            <source>Dial pad (Ctrl+K); digits are sent as DTMF during a call</source>
            <translation>Wähltasten (Strg+K); im Gespräch werden Ziffern als DTMF gesendet</translation>
        </message>
        <message>
            <source>Chat</source>
            <translation>Chat</translation>
        </message>
        <message>
            <source>Open the chat window (Ctrl+M)</source>
            <translation>Chatfenster öffnen (Strg+M)</translation>
        </message>
        <message>
            <source>Chat ({count})</source>
            <translation>Chat ({count})</translation>
        </message>
        <message>
            <source>Chat, {count} unread</source>
            <translation>Chat, {count} ungelesen</translation>
        </message>
        <message>
            <source>No calls yet. Calls you make and take are listed here: double-click one to call back, or right-click it to write, add the caller to your contacts or delete it.</source>
            <translation>Noch keine Anrufe. Ihre Anrufe erscheinen hier: Doppelklick ruft zurück, ein Rechtsklick bietet Schreiben, Zu Kontakten hinzufügen und Löschen an.</translation>
        </message>
        <message>
            <source>Call history</source>
            <translation>Anrufverlauf</translation>
        </message>
        <message>
            <source>Call history entry</source>
            <translation>Eintrag im Anrufverlauf</translation>
        </message>
        <message>
            <source>&amp;Call back</source>
            <translation>&amp;Zurückrufen</translation>
        </message>
        <message>
            <source>Send a &amp;message</source>
            <translation>&amp;Nachricht senden</translation>
        </message>
        <message>
            <source>&amp;Add to contacts…</source>
            <translation>Zu Kontakten &amp;hinzufügen …</translation>
        </message>
        <message>
            <source>In your contacts</source>
            <translation>In Ihren Kontakten</translation>
        </message>
        <message>
            <source>C&amp;opy address</source>
            <translation>Adresse &amp;kopieren</translation>
        </message>
        <message>
            <source>&amp;Delete from history</source>
            <translation>Aus dem Verlauf &amp;löschen</translation>
        </message>
        <message>
            <source>Show / hide</source>
            <translation>Zeigen / verbergen</translation>
        </message>
        <message>
            <source>Quit</source>
            <translation>Beenden</translation>
        </message>
        <message>
            <source>{address} needs its password to register.</source>
            <translation>{address} braucht sein Passwort für die Anmeldung.</translation>
        </message>
        <message>
            <source>Presence is not available in this version</source>
            <translation>Anwesenheit ist in dieser Version nicht verfügbar</translation>
        </message>
        <message>
            <source>{address} will be called once an account is set up.</source>
            <translation>{address} wird angerufen, sobald ein Konto eingerichtet ist.</translation>
        </message>
        <message>
            <source>Calling {address} …</source>
            <translation>{address} wird angerufen …</translation>
        </message>
        <message>
            <source>The server did not say where the voicemail is</source>
            <translation>Der Server hat nicht mitgeteilt, wo die Mailbox ist</translation>
        </message>
        <message>
            <source>History ({count})</source>
            <translation>Verlauf ({count})</translation>
        </message>
        <message>
            <source>The network changed: registered again from the new address</source>
            <translation>Das Netzwerk hat sich geändert: erneut von der neuen Adresse angemeldet</translation>
        </message>
        <message numerus="yes">
            <source>; moving %n call(s) there</source>
            <translation>
                <numerusform>; %n Gespräch wird dorthin verlegt</numerusform>
                <numerusform>; %n Gespräche werden dorthin verlegt</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <source>%n new voice message(s)</source>
            <translation>
                <numerusform>%n neue Sprachnachricht</numerusform>
                <numerusform>%n neue Sprachnachrichten</numerusform>
            </translation>
        </message>
        <message>
            <source>({count} old)</source>
            <translation>({count} alt)</translation>
        </message>
        <message>
            <source>No new voice messages</source>
            <translation>Keine neuen Sprachnachrichten</translation>
        </message>
        <message>
            <source>Voice messages: {text}</source>
            <translation>Sprachnachrichten: {text}</translation>
        </message>
        <message>
            <source>Click to call the voicemail</source>
            <translation>Klicken, um die Mailbox anzurufen</translation>
        </message>
        <message>
            <source>no account</source>
            <translation>kein Konto</translation>
        </message>
        <message>
            <source>registration failed</source>
            <translation>Anmeldung fehlgeschlagen</translation>
        </message>
        <message>
            <source>ready</source>
            <translation>bereit</translation>
        </message>
        <message>
            <source>connecting</source>
            <translation>verbindet</translation>
        </message>
        <message numerus="yes">
            <source>%n missed call(s)</source>
            <translation>
                <numerusform>%n verpasster Anruf</numerusform>
                <numerusform>%n verpasste Anrufe</numerusform>
            </translation>
        </message>
    </context>
    <context>
        <name>Notifications</name>
        <message>
            <source>Answer</source>
            <translation>Annehmen</translation>
        </message>
        <message>
            <source>Decline</source>
            <translation>Ablehnen</translation>
        </message>
    </context>
    <context>
        <name>PageButton</name>
        <message>
            <source>Page</source>
            <translation>Durchsage</translation>
        </message>
        <message>
            <source>Page {group}</source>
            <translation>Durchsage an {group}</translation>
        </message>
        <message>
            <source>No paging groups: add them in Settings → Paging</source>
            <translation>Keine Durchsagegruppen: unter Einstellungen → Durchsagen hinzufügen</translation>
        </message>
        <message>
            <source>Send a page (a one-way announcement) to a group of phones</source>
            <translation>Eine Durchsage (eine Ansage in eine Richtung) an eine Gruppe von Telefonen senden</translation>
        </message>
        <message>
            <source>End the page</source>
            <translation>Die Durchsage beenden</translation>
        </message>
        <message>
            <source>End page</source>
            <translation>Durchsage beenden</translation>
        </message>
        <message>
            <source>Page from {source} on {group}</source>
            <translation>Durchsage von {source} an {group}</translation>
        </message>
    </context>
    <context>
        <name>PagingPage</name>
        <message>
            <source>G.722 (wideband)</source>
            <translation>G.722 (Breitband)</translation>
        </message>
        <message>
            <source>Opus</source>
            <translation>Opus</translation>
        </message>
        <message>
            <source>G.711 µ-law (PCMU)</source>
            <translation>G.711 µ-law (PCMU)</translation>
        </message>
        <message>
            <source>G.711 A-law (PCMA)</source>
            <translation>G.711 A-law (PCMA)</translation>
        </message>
        <message>
            <source>Hold the call while the page plays</source>
            <translation>Das Gespräch halten, solange die Durchsage läuft</translation>
        </message>
        <message>
            <source>Play the page along with the call</source>
            <translation>Die Durchsage zusammen mit dem Gespräch wiedergeben</translation>
        </message>
        <message>
            <source>Pages heard</source>
            <translation>Empfangene Durchsagen</translation>
        </message>
        <message>
            <source>Group (address:port)</source>
            <translation>Gruppe (Adresse:Port)</translation>
        </message>
        <message>
            <source>Priority</source>
            <translation>Priorität</translation>
        </message>
        <message>
            <source>Only from (addresses)</source>
            <translation>Nur von (Adressen)</translation>
        </message>
        <message>
            <source>Codecs (empty: all)</source>
            <translation>Codecs (leer: alle)</translation>
        </message>
        <message>
            <source>Paging groups heard</source>
            <translation>Empfangene Durchsagegruppen</translation>
        </message>
        <message>
            <source>Select all groups</source>
            <translation>Alle Gruppen auswählen</translation>
        </message>
        <message>
            <source>&amp;Add group</source>
            <translation>Gruppe &amp;hinzufügen</translation>
        </message>
        <message>
            <source>Add paging group</source>
            <translation>Durchsagegruppe hinzufügen</translation>
        </message>
        <message>
            <source>&amp;Remove group</source>
            <translation>Gruppe &amp;entfernen</translation>
        </message>
        <message>
            <source>Remove paging group</source>
            <translation>Durchsagegruppe entfernen</translation>
        </message>
        <message>
            <source>A page of higher priority interrupts one of lower priority. Do not disturb hears no pages.</source>
            <translation>Eine Durchsage höherer Priorität unterbricht eine niedrigerer Priorität. Bei „Nicht stören“ werden keine Durchsagen wiedergegeben.</translation>
        </message>
        <message>
            <source>A page during a call</source>
            <translation>Eine Durchsage während eines Gesprächs</translation>
        </message>
        <message>
            <source>During a call:</source>
            <translation>Während eines Gesprächs:</translation>
        </message>
        <message>
            <source>239.0.1.20:5004, [ff05::1:20]:5004</source>
            <translation>239.0.1.20:5004, [ff05::1:20]:5004</translation>
        </message>
        <message>
            <source>Groups the Page button sends to</source>
            <translation>Gruppen, an die die Durchsage-Taste sendet</translation>
        </message>
        <message>
            <source>Page button sends to:</source>
            <translation>Durchsage-Taste sendet an:</translation>
        </message>
        <message>
            <source>Codec of pages sent</source>
            <translation>Codec gesendeter Durchsagen</translation>
        </message>
        <message>
            <source>Codec:</source>
            <translation>Codec:</translation>
        </message>
        <message>
            <source>Time to live of pages sent</source>
            <translation>Lebensdauer (TTL) gesendeter Durchsagen</translation>
        </message>
        <message>
            <source>TTL (hops):</source>
            <translation>TTL (Hops):</translation>
        </message>
        <message>
            <source>chosen by route</source>
            <translation>nach Route gewählt</translation>
        </message>
        <message>
            <source>Network interface for pages</source>
            <translation>Netzwerkschnittstelle für Durchsagen</translation>
        </message>
        <message>
            <source>Network interface:</source>
            <translation>Netzwerkschnittstelle:</translation>
        </message>
    </context>
    <context>
        <name>PasswordPrompt</name>
        <message>
            <source>Password for {who}</source>
            <translation>Passwort für {who}</translation>
        </message>
        <message>
            <source>Problem</source>
            <translation>Problem</translation>
        </message>
        <message>
            <source>Enter the password of {who} to register:</source>
            <translation>Geben Sie das Passwort von {who} für die Anmeldung ein:</translation>
        </message>
        <message>
            <source>Password</source>
            <translation>Passwort</translation>
        </message>
        <message>
            <source>&amp;Register</source>
            <translation>&amp;Anmelden</translation>
        </message>
        <message>
            <source>Register with this password</source>
            <translation>Mit diesem Passwort anmelden</translation>
        </message>
        <message>
            <source>&amp;Later</source>
            <translation>&amp;Später</translation>
        </message>
        <message>
            <source>Later</source>
            <translation>Später</translation>
        </message>
    </context>
    <context>
        <name>PresenceSelector</name>
        <message>
            <source>Available</source>
            <translation>Verfügbar</translation>
        </message>
        <message>
            <source>Away</source>
            <translation>Abwesend</translation>
        </message>
        <message>
            <source>Busy</source>
            <translation>Beschäftigt</translation>
        </message>
        <message>
            <source>Offline</source>
            <translation>Offline</translation>
        </message>
        <message>
            <source>Offline (not registered)</source>
            <translation>Offline (nicht angemeldet)</translation>
        </message>
        <message>
            <source>My presence</source>
            <translation>Meine Anwesenheit</translation>
        </message>
        <message>
            <source>Note (what you are doing)</source>
            <translation>Notiz (was Sie gerade tun)</translation>
        </message>
        <message>
            <source>Presence note</source>
            <translation>Anwesenheitsnotiz</translation>
        </message>
        <message>
            <source>Others see you offline until an account is registered; then: {chosen}</source>
            <translation>Andere sehen Sie offline, bis ein Konto angemeldet ist; dann: {chosen}</translation>
        </message>
        <message>
            <source>My presence: {state}</source>
            <translation>Meine Anwesenheit: {state}</translation>
        </message>
    </context>
    <context>
        <name>QualityGraph</name>
        <message>
            <source>Call quality graph</source>
            <translation>Verlauf der Gesprächsqualität</translation>
        </message>
        <message>
            <source>MOS over the last minute (1 bad … 4.5 excellent)</source>
            <translation>MOS der letzten Minute (1 schlecht … 4,5 ausgezeichnet)</translation>
        </message>
        <message>
            <source>MOS {mos:.1f}</source>
            <translation>MOS {mos:.1f}</translation>
        </message>
    </context>
    <context>
        <name>RequestsPanel</name>
        <message>
            <source>Message requests</source>
            <translation>Nachrichtenanfragen</translation>
        </message>
        <message>
            <source>Senders of message requests</source>
            <translation>Absender von Nachrichtenanfragen</translation>
        </message>
        <message>
            <source>Messages of the selected request</source>
            <translation>Nachrichten der gewählten Anfrage</translation>
        </message>
        <message>
            <source>Accept</source>
            <translation>Annehmen</translation>
        </message>
        <message>
            <source>Accept the message request</source>
            <translation>Die Nachrichtenanfrage annehmen</translation>
        </message>
        <message>
            <source>Add contact…</source>
            <translation>Kontakt hinzufügen …</translation>
        </message>
        <message>
            <source>Add the sender as a contact</source>
            <translation>Den Absender als Kontakt hinzufügen</translation>
        </message>
        <message>
            <source>Delete</source>
            <translation>Löschen</translation>
        </message>
        <message>
            <source>Delete the message request</source>
            <translation>Die Nachrichtenanfrage löschen</translation>
        </message>
        <message>
            <source>{count} new</source>
            <translation>{count} neu</translation>
        </message>
        <message>
            <source>{peer} — not a verified contact</source>
            <translation>{peer} — kein bestätigter Kontakt</translation>
        </message>
        <message>
            <source>Message request from {peer}</source>
            <translation>Nachrichtenanfrage von {peer}</translation>
        </message>
        <message>
            <source>Message requests ({count}): from senders who are not verified contacts. Nothing is shown in your conversations until you accept.</source>
            <translation>Nachrichtenanfragen ({count}): von Absendern, die keine bestätigten Kontakte sind. In Ihren Unterhaltungen erscheint nichts, bis Sie annehmen.</translation>
        </message>
    </context>
    <context>
        <name>Ringer</name>
        <message>
            <source>Classic ring</source>
            <translation>Klassisches Klingeln</translation>
        </message>
        <message>
            <source>Marimba</source>
            <translation>Marimba</translation>
        </message>
        <message>
            <source>Bells</source>
            <translation>Glocken</translation>
        </message>
        <message>
            <source>Chime</source>
            <translation>Gong</translation>
        </message>
        <message>
            <source>Digital</source>
            <translation>Digital</translation>
        </message>
    </context>
    <context>
        <name>SettingsDialog</name>
        <message>
            <source>Settings</source>
            <translation>Einstellungen</translation>
        </message>
        <message>
            <source>Settings sections</source>
            <translation>Bereiche der Einstellungen</translation>
        </message>
        <message>
            <source>Accounts</source>
            <translation>Konten</translation>
        </message>
        <message>
            <source>Audio</source>
            <translation>Audio</translation>
        </message>
        <message>
            <source>Codecs</source>
            <translation>Codecs</translation>
        </message>
        <message>
            <source>Calls</source>
            <translation>Gespräche</translation>
        </message>
        <message>
            <source>Video</source>
            <translation>Video</translation>
        </message>
        <message>
            <source>Paging</source>
            <translation>Durchsagen</translation>
        </message>
        <message>
            <source>General</source>
            <translation>Allgemein</translation>
        </message>
        <message>
            <source>Settings status</source>
            <translation>Status der Einstellungen</translation>
        </message>
        <message>
            <source>The settings could not be saved: {error}</source>
            <translation>Die Einstellungen konnten nicht gespeichert werden: {error}</translation>
        </message>
        <message>
            <source>Saved.</source>
            <translation>Gespeichert.</translation>
        </message>
    </context>
    <context>
        <name>StorageChoice</name>
        <message>
            <source>Keep the password:</source>
            <translation>Passwort aufbewahren:</translation>
        </message>
        <message>
            <source>in the system &amp;keyring</source>
            <translation>im &amp;Schlüsselbund des Systems</translation>
        </message>
        <message>
            <source>(not available: {problem})</source>
            <translation>(nicht verfügbar: {problem})</translation>
        </message>
        <message>
            <source>Keep the password in the system keyring</source>
            <translation>Passwort im Schlüsselbund des Systems aufbewahren</translation>
        </message>
        <message>
            <source>in a &amp;file only you can read</source>
            <translation>in einer &amp;Datei, die nur Sie lesen können</translation>
        </message>
        <message>
            <source>Keep the password in a file only you can read</source>
            <translation>Passwort in einer Datei aufbewahren, die nur Sie lesen können</translation>
        </message>
        <message>
            <source>&amp;nowhere: ask for it each time the softphone starts</source>
            <translation>&amp;nirgends: bei jedem Start von Softphone danach fragen</translation>
        </message>
        <message>
            <source>Do not keep the password</source>
            <translation>Passwort nicht aufbewahren</translation>
        </message>
        <message>
            <source>Warning about the password file</source>
            <translation>Warnung zur Passwortdatei</translation>
        </message>
        <message>
            <source>⚠ The password is saved unencrypted in {where}. Only your user account can open that file, but anyone who can read your files (an administrator, a backup, someone at your unlocked computer) can read the password too.</source>
            <translation>⚠ Das Passwort wird unverschlüsselt in {where} gespeichert. Nur Ihr Benutzerkonto kann diese Datei öffnen, aber wer Ihre Dateien lesen kann (ein Administrator, eine Sicherung, jemand an Ihrem entsperrten Computer), kann auch das Passwort lesen.</translation>
        </message>
    </context>
    <context>
        <name>TraceWindow</name>
        <message>
            <source>request</source>
            <translation>Anfrage</translation>
        </message>
        <message>
            <source>provisional response</source>
            <translation>vorläufige Antwort</translation>
        </message>
        <message>
            <source>success response</source>
            <translation>Erfolgsantwort</translation>
        </message>
        <message>
            <source>redirection</source>
            <translation>Umleitung</translation>
        </message>
        <message>
            <source>error response</source>
            <translation>Fehlerantwort</translation>
        </message>
        <message>
            <source>SIP trace</source>
            <translation>SIP-Mitschnitt</translation>
        </message>
        <message>
            <source>The trace starts when this window opens.</source>
            <translation>Der Mitschnitt beginnt, wenn dieses Fenster öffnet.</translation>
        </message>
        <message>
            <source>Trace state</source>
            <translation>Status des Mitschnitts</translation>
        </message>
        <message>
            <source>Dialogs</source>
            <translation>Dialoge</translation>
        </message>
        <message>
            <source>Time</source>
            <translation>Zeit</translation>
        </message>
        <message>
            <source>First request</source>
            <translation>Erste Anfrage</translation>
        </message>
        <message>
            <source>Msgs</source>
            <translation>Nachr.</translation>
        </message>
        <message>
            <source>Call-ID</source>
            <translation>Call-ID</translation>
        </message>
        <message>
            <source>Ladder diagram, scrollable</source>
            <translation>Leiterdiagramm, rollbar</translation>
        </message>
        <message>
            <source>Message text</source>
            <translation>Nachrichtentext</translation>
        </message>
        <message>
            <source>Click an arrow to see the whole message.</source>
            <translation>Klicken Sie auf einen Pfeil, um die ganze Nachricht zu sehen.</translation>
        </message>
        <message>
            <source>&amp;Export pcap…</source>
            <translation>pcap &amp;exportieren …</translation>
        </message>
        <message>
            <source>Export the selected dialog as pcap</source>
            <translation>Den gewählten Dialog als pcap exportieren</translation>
        </message>
        <message>
            <source>Save the selected dialog's messages as a pcap file (Wireshark, sngrep)</source>
            <translation>Die Nachrichten des gewählten Dialogs als pcap-Datei speichern (Wireshark, sngrep)</translation>
        </message>
        <message>
            <source>Export &amp;all…</source>
            <translation>&amp;Alles exportieren …</translation>
        </message>
        <message>
            <source>Export every traced message as pcap</source>
            <translation>Alle mitgeschnittenen Nachrichten als pcap exportieren</translation>
        </message>
        <message>
            <source>&amp;Clear</source>
            <translation>&amp;Leeren</translation>
        </message>
        <message>
            <source>Clear the trace</source>
            <translation>Den Mitschnitt leeren</translation>
        </message>
        <message>
            <source>The phone core is not running: nothing to trace.</source>
            <translation>Der Telefonkern läuft nicht: nichts mitzuschneiden.</translation>
        </message>
        <message>
            <source>Tracing: every SIP message this phone sends or receives is shown.</source>
            <translation>Mitschnitt: jede SIP-Nachricht, die dieses Telefon sendet oder empfängt, wird gezeigt.</translation>
        </message>
        <message>
            <source>The trace is off while this window is closed.</source>
            <translation>Der Mitschnitt ist aus, solange dieses Fenster geschlossen ist.</translation>
        </message>
        <message>
            <source>The trace could not be started: {exc}</source>
            <translation>Der Mitschnitt konnte nicht gestartet werden: {exc}</translation>
        </message>
        <message numerus="yes">
            <source>Saved %n message(s) to {path}.</source>
            <translation>
                <numerusform>%n Nachricht in {path} gespeichert.</numerusform>
                <numerusform>%n Nachrichten in {path} gespeichert.</numerusform>
            </translation>
        </message>
        <message>
            <source>Nothing to export yet.</source>
            <translation>Noch nichts zu exportieren.</translation>
        </message>
        <message>
            <source>Export pcap</source>
            <translation>pcap exportieren</translation>
        </message>
        <message>
            <source>Cannot save {path}: {exc}</source>
            <translation>{path} kann nicht gespeichert werden: {exc}</translation>
        </message>
    </context>
    <context>
        <name>TransferDialog</name>
        <message>
            <source>Transfer {remote}</source>
            <translation>{remote} weiterleiten</translation>
        </message>
        <message>
            <source>Blind transfer</source>
            <translation>Blindes Weiterleiten</translation>
        </message>
        <message>
            <source>sip:carol@example.com or a number</source>
            <translation>sip:carol@example.com oder eine Nummer</translation>
        </message>
        <message>
            <source>Transfer target</source>
            <translation>Weiterleitungsziel</translation>
        </message>
        <message>
            <source>&amp;To:</source>
            <translation>&amp;An:</translation>
        </message>
        <message>
            <source>Contacts to transfer to</source>
            <translation>Kontakte als Weiterleitungsziel</translation>
        </message>
        <message>
            <source>&amp;Transfer</source>
            <translation>&amp;Weiterleiten</translation>
        </message>
        <message>
            <source>Transfer now</source>
            <translation>Jetzt weiterleiten</translation>
        </message>
        <message>
            <source>Cancel transfer</source>
            <translation>Weiterleitung abbrechen</translation>
        </message>
    </context>
    <context>
        <name>VideoPage</name>
        <message>
            <source>Camera (the first one found)</source>
            <translation>Kamera (die erste gefundene)</translation>
        </message>
        <message>
            <source>Test pattern</source>
            <translation>Testbild</translation>
        </message>
        <message>
            <source>Screen</source>
            <translation>Bildschirm</translation>
        </message>
        <message>
            <source>Nothing (receive only)</source>
            <translation>Nichts (nur empfangen)</translation>
        </message>
        <message>
            <source>VP8, then H.264</source>
            <translation>VP8, dann H.264</translation>
        </message>
        <message>
            <source>H.264, then VP8</source>
            <translation>H.264, dann VP8</translation>
        </message>
        <message>
            <source>VP8 only</source>
            <translation>Nur VP8</translation>
        </message>
        <message>
            <source>H.264 only</source>
            <translation>Nur H.264</translation>
        </message>
        <message>
            <source>&amp;Offer video in the calls I make</source>
            <translation>In meinen Anrufen Video an&amp;bieten</translation>
        </message>
        <message>
            <source>Offer video in calls</source>
            <translation>Video in Anrufen anbieten</translation>
        </message>
        <message>
            <source>Video source</source>
            <translation>Videoquelle</translation>
        </message>
        <message>
            <source>Video codecs</source>
            <translation>Video-Codecs</translation>
        </message>
        <message>
            <source>Looking for cameras …</source>
            <translation>Kameras werden gesucht …</translation>
        </message>
        <message>
            <source>Cameras</source>
            <translation>Kameras</translation>
        </message>
        <message>
            <source>&amp;Send:</source>
            <translation>&amp;Senden:</translation>
        </message>
        <message>
            <source>Cameras:</source>
            <translation>Kameras:</translation>
        </message>
        <message>
            <source>C&amp;odecs:</source>
            <translation>C&amp;odecs:</translation>
        </message>
        <message>
            <source>Video is encrypted as the call's sound is (the account's media encryption). A call offering video can always be answered without it.</source>
            <translation>Video wird verschlüsselt wie der Ton des Anrufs (nach der Medienverschlüsselung des Kontos). Ein Anruf mit Video kann immer auch ohne Video angenommen werden.</translation>
        </message>
    </context>
    <context>
        <name>VideoView</name>
        <message>
            <source>Video</source>
            <translation>Video</translation>
        </message>
        <message>
            <source>Waiting for video …</source>
            <translation>Warten auf Video …</translation>
        </message>
    </context>
    <context>
        <name>VideoWindow</name>
        <message>
            <source>Test pattern</source>
            <translation>Testbild</translation>
        </message>
        <message>
            <source>Screen</source>
            <translation>Bildschirm</translation>
        </message>
        <message>
            <source>Camera</source>
            <translation>Kamera</translation>
        </message>
        <message>
            <source>Nothing (camera off)</source>
            <translation>Nichts (Kamera aus)</translation>
        </message>
        <message>
            <source>Camera {device}</source>
            <translation>Kamera {device}</translation>
        </message>
        <message>
            <source>Screen {display}</source>
            <translation>Bildschirm {display}</translation>
        </message>
        <message>
            <source>Video with {remote}</source>
            <translation>Video mit {remote}</translation>
        </message>
        <message>
            <source>Video call</source>
            <translation>Videoanruf</translation>
        </message>
        <message>
            <source>Send my picture, or stop sending it (the video stays)</source>
            <translation>Mein Bild senden oder nicht mehr senden (das Video bleibt)</translation>
        </message>
        <message>
            <source>Share screen</source>
            <translation>Bildschirm teilen</translation>
        </message>
        <message>
            <source>Send the screen instead of the camera</source>
            <translation>Den Bildschirm statt der Kamera senden</translation>
        </message>
        <message>
            <source>Source</source>
            <translation>Quelle</translation>
        </message>
        <message>
            <source>Choose what the call sends</source>
            <translation>Wählen, was der Anruf sendet</translation>
        </message>
        <message>
            <source>Stop video</source>
            <translation>Video beenden</translation>
        </message>
        <message>
            <source>Drop the video from the call (the audio goes on)</source>
            <translation>Das Video aus dem Anruf nehmen (der Ton läuft weiter)</translation>
        </message>
        <message>
            <source>Full screen</source>
            <translation>Vollbild</translation>
        </message>
        <message>
            <source>Full screen (F11, Esc leaves)</source>
            <translation>Vollbild (F11, Esc beendet es)</translation>
        </message>
        <message>
            <source>Video: waiting for pictures …</source>
            <translation>Video: warten auf Bilder …</translation>
        </message>
        <message>
            <source>Video quality</source>
            <translation>Videoqualität</translation>
        </message>
        <message>
            <source>Video status</source>
            <translation>Videostatus</translation>
        </message>
        <message>
            <source>The call has no video now.</source>
            <translation>Der Anruf hat jetzt kein Video.</translation>
        </message>
        <message>
            <source>The call has ended.</source>
            <translation>Der Anruf ist beendet.</translation>
        </message>
        <message>
            <source>Camera off</source>
            <translation>Kamera aus</translation>
        </message>
        <message>
            <source>Camera on</source>
            <translation>Kamera an</translation>
        </message>
        <message>
            <source>Start video</source>
            <translation>Video starten</translation>
        </message>
        <message>
            <source>Sending: {source}</source>
            <translation>Gesendet wird: {source}</translation>
        </message>
        <message>
            <source>Camera off: the other side gets nothing from us.</source>
            <translation>Kamera aus: die Gegenseite bekommt nichts von uns.</translation>
        </message>
        <message>
            <source>Looking for cameras …</source>
            <translation>Kameras werden gesucht …</translation>
        </message>
        <message>
            <source>No camera found</source>
            <translation>Keine Kamera gefunden</translation>
        </message>
        <message>
            <source>Cameras cannot be used: {why}</source>
            <translation>Kameras können nicht verwendet werden: {why}</translation>
        </message>
        <message>
            <source>Video {codec} {width}×{height} · {fps:.0f} fps · {kbps:.0f} kbit/s · loss {loss:.1f} % · freezes {freezes}</source>
            <translation>Video {codec} {width}×{height} · {fps:.0f} B/s · {kbps:.0f} kbit/s · Verlust {loss:.1f} % · Standbilder {freezes}</translation>
        </message>
        <message>
            <source>Video</source>
            <translation>Video</translation>
        </message>
        <message>
            <source>Show the video, or add video to the call</source>
            <translation>Das Video zeigen oder dem Anruf Video hinzufügen</translation>
        </message>
    </context>
    <context>
        <name>WatcherBar</name>
        <message>
            <source>Presence requests</source>
            <translation>Anwesenheitsanfragen</translation>
        </message>
        <message>
            <source>Someone wants to see your presence:</source>
            <translation>Jemand möchte Ihre Anwesenheit sehen:</translation>
        </message>
        <message>
            <source>{count} people want to see your presence:</source>
            <translation>{count} Personen möchten Ihre Anwesenheit sehen:</translation>
        </message>
    </context>
    <context>
        <name>WatcherRow</name>
        <message>
            <source>{uri} (identity not verified)</source>
            <translation>{uri} (Identität nicht bestätigt)</translation>
        </message>
        <message>
            <source>Presence request from {uri}</source>
            <translation>Anwesenheitsanfrage von {uri}</translation>
        </message>
        <message>
            <source>Allow</source>
            <translation>Erlauben</translation>
        </message>
        <message>
            <source>Allow {uri} to see your presence</source>
            <translation>{uri} erlauben, Ihre Anwesenheit zu sehen</translation>
        </message>
        <message>
            <source>Block</source>
            <translation>Sperren</translation>
        </message>
        <message>
            <source>Block {uri} from seeing your presence</source>
            <translation>{uri} sperren, Ihre Anwesenheit zu sehen</translation>
        </message>
    </context>
</TS>

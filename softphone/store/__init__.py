"""softphone.store"""

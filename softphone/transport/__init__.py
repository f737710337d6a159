"""softphone.transport"""

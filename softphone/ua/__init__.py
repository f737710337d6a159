"""softphone.ua"""

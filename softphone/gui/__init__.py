"""softphone.gui"""

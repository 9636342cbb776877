"""The Discord adapter (discord.py): chat lines in, replies out as sends, edits and files."""

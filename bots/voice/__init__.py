"""The voice conversation page: talk to the bot, and interrupt it."""

"""The Twitch bot (twitchio 3)."""

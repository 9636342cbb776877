"""Platform adapters (console now; Discord, Twitch, IRC, web later) and the CLI."""

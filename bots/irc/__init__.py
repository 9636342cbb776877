"""The IRC bot (pydle)."""

"""The shared test kit: fakes of the platforms (Discord, Twitch, voice), a real IRC
server, a scripted inference client with real media, fake clocks, the literai server
launcher, and the small helpers the chat tests share. Tests and bench/ import from here;
no test module imports another."""

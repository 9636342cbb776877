"""Platform adapters (console, Discord, Twitch, IRC, the web pages) and the process
layer: the ``literai`` command, the deployment config, and the lifetimes of what runs."""

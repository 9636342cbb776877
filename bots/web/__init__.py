"""Pages served by ``literai run``: the live-stream overlay and the podcast episode
player, fed by the chat core's observers; who may open them is ``access.py``'s."""

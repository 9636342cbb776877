"""Pages served by ``literai run``: the live-stream overlay."""

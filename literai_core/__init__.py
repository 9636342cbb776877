"""literai's chat core: what a bot decides, with no platform or model imports."""

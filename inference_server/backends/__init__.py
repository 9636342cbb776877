"""Model backends. Heavy imports happen only inside the module that needs them."""

"""Ray actors: campaigns, agent pools, trunks, and the controller that owns them."""

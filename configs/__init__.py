"""ml-collections configs, one per theorem's experiment: `get_config(arg)`."""

"""What runs on a worker: the resident shard, its compute, and injected straggling."""

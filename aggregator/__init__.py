"""The network: asks every member beacon at once and merges their answers."""

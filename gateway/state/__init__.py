"""State that replicas share: the seam between one process and several behind a load balancer.

``base`` names what the gateway keeps beyond one request (cached executions, decision locks and
confirmations, webhook event ids, rate-limit buckets) as one small interface; ``memory`` keeps it
in this process (the default, one replica), ``redis`` in a Redis server every replica reaches.
``codec`` turns the model's executions into bytes and back, so a cached execution can cross
processes.
"""

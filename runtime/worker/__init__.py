"""What runs inside django-q2 cluster processes, beside the services they call."""

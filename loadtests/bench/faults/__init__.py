"""The fault suite (make robustness): each fault against each stack, judged pass or fail."""

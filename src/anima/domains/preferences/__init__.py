"""Staff notification preferences: which events a member is told about by email, and those emails."""

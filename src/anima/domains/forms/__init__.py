"""Forms: templates (system and the organization's, versioned), distribution, submissions and scored measures."""

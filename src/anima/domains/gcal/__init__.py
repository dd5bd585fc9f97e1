"""Google Calendar: a therapist's own Google account (OAuth 2.0 with PKCE), FreeBusy blocking their
free slots, and their confirmed bookings mirrored as events in the calendar they chose."""

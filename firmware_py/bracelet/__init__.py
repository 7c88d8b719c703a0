"""The bracelet: GNSS fixes, strap and button events, roll calls, health."""

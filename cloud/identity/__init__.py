"""Identity: the people who sign in, their roles, passwords and access tokens, and the
``Principal`` every other domain's policy decides on."""

"""What runs only on a board: the main loop around an agent, with umqtt.simple."""

"""Rivers: monitoring sites on rivers, the river chiefs who watch them, and the water
series of the stations placed at each site."""

package scaling

// Floor is a lower bound on a pool's size that holds for this tick only: the predictive
// forecast's capacity for the load expected once a node asked for now can serve.
type Floor struct {
	// Nodes is the least size; zero means no floor.
	Nodes int
	// Forecast is the load the floor was sized for.
	Forecast float64
	// Reason says in words where the floor comes from.
	Reason string
}

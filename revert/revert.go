// Package revert undoes the completed steps of a multi-step change when a
// later step fails: r := revert.New(); defer r.Fail(); ...; r.Success().
package revert

// Reverter collects undo functions and runs them in reverse order unless
// Success was called.
type Reverter struct {
	undo []func()
	done bool
}

// New returns an armed reverter.
func New() *Reverter { return &Reverter{} }

// Add registers the undo of a step that just succeeded.
func (r *Reverter) Add(f func()) { r.undo = append(r.undo, f) }

// Fail runs the undo functions in reverse order, once, unless Success was
// called first. It is meant to be deferred.
func (r *Reverter) Fail() {
	if r.done {
		return
	}
	r.done = true
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
}

// Success disarms the reverter: the change is kept.
func (r *Reverter) Success() { r.done = true }

//go:build !race

package db

// raceEnabled is true under the race detector, which makes everything
// several times slower; timing assertions are skipped then.
const raceEnabled = false

package revert

import (
	"slices"
	"testing"
)

func TestReverter(t *testing.T) {
	cases := []struct {
		name    string
		success bool
		want    []int
	}{
		{"fail runs undo in reverse", false, []int{3, 2, 1}},
		{"success keeps everything", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			func() {
				r := New()
				defer r.Fail()
				for i := 1; i <= 3; i++ {
					r.Add(func() { got = append(got, i) })
				}
				if c.success {
					r.Success()
				}
			}()
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestFailRunsOnce(t *testing.T) {
	n := 0
	r := New()
	r.Add(func() { n++ })
	r.Fail()
	r.Fail()
	if n != 1 {
		t.Fatalf("undo ran %d times, want 1", n)
	}
}

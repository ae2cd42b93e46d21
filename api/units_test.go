package api

import "testing"

func TestHumanBytes(t *testing.T) {
	cases := map[int64]string{
		0:              "0B",
		1023:           "1023B",
		1024:           "1.00KiB",
		1536:           "1.50KiB",
		5 << 20:        "5.00MiB",
		3 << 30:        "3.00GiB",
		1<<40 + 1<<39:  "1.50TiB",
		int64(1) << 62: "4.00EiB",
	}
	for in, want := range cases {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

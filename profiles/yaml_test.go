package profiles

import (
	"errors"
	"reflect"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want api.ProfilePut
		ok   bool
	}{
		{
			name: "full",
			in: `description: web
config:
  limits.cpu: 2
  security.nesting: true
devices:
  root:
    type: disk
    path: /
    pool: default
`,
			want: api.ProfilePut{
				Description: "web",
				Config:      map[string]string{"limits.cpu": "2", "security.nesting": "true"},
				Devices:     api.Devices{"root": {"type": "disk", "path": "/", "pool": "default"}},
			},
			ok: true,
		},
		{name: "empty", in: "", want: api.ProfilePut{Config: map[string]string{}, Devices: api.Devices{}}, ok: true},
		{
			name: "show output is accepted",
			in:   "name: x\nused_by: [/1.0/instances/a]\nproject: default\ndescription: d\n",
			want: api.ProfilePut{Description: "d", Config: map[string]string{}, Devices: api.Devices{}},
			ok:   true,
		},
		{name: "unknown field", in: "descripton: typo\n", ok: false},
		{name: "config not a map", in: "config: [a, b]\n", ok: false},
		{name: "nested map in config", in: "config:\n  a:\n    b: c\n", ok: false},
		{name: "two documents", in: "description: a\n---\ndescription: b\n", ok: false},
		{name: "garbage", in: "{{{", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYAML([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("ParseYAML err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidYAML) {
					t.Errorf("want ErrInvalidYAML, got %v", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

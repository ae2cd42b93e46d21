package main

import (
	"strings"
	"testing"
)

func TestFilters(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "web1 web2 db1"},
		{[]string{"web"}, "web1 web2"},
		{[]string{"web1"}, "web1"},
		{[]string{"web", "db"}, "web1 web2 db1"},
		{[]string{"x"}, ""},
		{[]string{"status=running"}, "web1"},
		{[]string{"status=STOPPED"}, "web2"},
		{[]string{"status=frozen"}, "db1"},
		{[]string{"image.os=Debian"}, "web1 db1"},
		{[]string{"image.os=debian"}, ""},
		{[]string{"image.os=Debian", "status=frozen"}, "db1"},
		{[]string{"web", "image.os=Debian"}, "web1"},
		{[]string{"security.privileged=true"}, "web2"},
		{[]string{"image.os="}, "web2"},
		{[]string{"name=web"}, ""},
		{[]string{"name=web2"}, "web2"},
	}
	for _, c := range cases {
		got := filterInstances(fixture(), parseFilters(c.args))
		var names []string
		for _, i := range got {
			names = append(names, i.Name)
		}
		if strings.Join(names, " ") != c.want {
			t.Errorf("filter %q = %v, want %q", c.args, names, c.want)
		}
	}
}

package main

import (
	"reflect"
	"testing"

	"github.com/lxmgr/lxmgr/db"
)

func prioInst(name, key, prio string) expandedInstance {
	cfg := map[string]string{}
	if prio != "" {
		cfg[key] = prio
	}
	return expandedInstance{inst: db.Instance{Name: name}, cfg: cfg}
}

func names(list []expandedInstance) []string {
	out := []string{}
	for _, ie := range list {
		out = append(out, ie.inst.Name)
	}
	return out
}

// The inputs come sorted by name, as the daemon lists them, with names
// sorting opposite to priority: only the priority sort gives the order.
func TestAutostartOrder(t *testing.T) {
	const k = "boot.autostart.priority"
	in := []expandedInstance{
		prioInst("a", k, "1"), prioInst("b", k, ""), prioInst("c", k, "5"),
		prioInst("d", k, "5"), prioInst("e", k, "-3"), prioInst("f", k, "50"),
	}
	got := names(autostartOrder(in))
	want := []string{"f", "c", "d", "a", "b", "e"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("autostart order %v, want %v", got, want)
	}
	if names(in)[0] != "a" {
		t.Fatal("autostartOrder reordered its input")
	}
}

func TestStopGroups(t *testing.T) {
	const k = "boot.stop.priority"
	in := []expandedInstance{
		prioInst("a", k, "1"), prioInst("b", k, "9"), prioInst("c", k, ""),
		prioInst("d", k, "9"), prioInst("e", k, "5"),
	}
	var got [][]string
	for _, g := range stopGroups(in) {
		got = append(got, names(g))
	}
	want := [][]string{{"b", "d"}, {"e"}, {"a"}, {"c"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stop groups %v, want %v", got, want)
	}
	if len(stopGroups(nil)) != 0 {
		t.Fatal("groups for no guests")
	}
}

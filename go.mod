module github.com/lxmgr/lxmgr

go 1.26.8

require (
	github.com/gorilla/websocket v1.5.3
	github.com/lxc/go-lxc v0.0.0-20260316180011-3af4ce000ed7
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/spf13/cobra v1.10.2
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.50.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)

package api

// NetworkPut holds the fields of a network that PUT replaces.
type NetworkPut struct {
	Config      map[string]string `json:"config" yaml:"config"`
	Description string            `json:"description" yaml:"description"`
}

// Network is a managed network (GET /1.0/networks/{name}).
type Network struct {
	NetworkPut `yaml:",inline"`
	Name       string   `json:"name" yaml:"name"`
	Type       string   `json:"type" yaml:"type"` // "bridge"
	Managed    bool     `json:"managed" yaml:"managed"`
	Status     string   `json:"status" yaml:"status"` // "Created", "Errored"
	UsedBy     []string `json:"used_by" yaml:"used_by"`
}

// NetworksPost is the body of POST /1.0/networks.
type NetworksPost struct {
	NetworkPut `yaml:",inline"`
	Name       string `json:"name" yaml:"name"`
	Type       string `json:"type" yaml:"type"`
}

// NetworkPost is the body of POST /1.0/networks/{name} (rename).
type NetworkPost struct {
	Name string `json:"name" yaml:"name"`
}

// NetworkState is GET /1.0/networks/{name}/state.
type NetworkState struct {
	Addresses []NetworkStateAddress `json:"addresses" yaml:"addresses"`
	Counters  NetworkStateCounters  `json:"counters" yaml:"counters"`
	Hwaddr    string                `json:"hwaddr" yaml:"hwaddr"`
	Mtu       int                   `json:"mtu" yaml:"mtu"`
	State     string                `json:"state" yaml:"state"` // "up", "down"
	Type      string                `json:"type" yaml:"type"`
}

// NetworkStateAddress is one address of a network's bridge.
type NetworkStateAddress struct {
	Family  string `json:"family" yaml:"family"`
	Address string `json:"address" yaml:"address"`
	Netmask string `json:"netmask" yaml:"netmask"`
	Scope   string `json:"scope" yaml:"scope"`
}

// NetworkStateCounters are the bridge's traffic counters.
type NetworkStateCounters struct {
	BytesReceived   int64 `json:"bytes_received" yaml:"bytes_received"`
	BytesSent       int64 `json:"bytes_sent" yaml:"bytes_sent"`
	PacketsReceived int64 `json:"packets_received" yaml:"packets_received"`
	PacketsSent     int64 `json:"packets_sent" yaml:"packets_sent"`
}

// NetworkLease is one DHCP lease or reservation (GET /1.0/networks/{name}/leases).
type NetworkLease struct {
	Hostname string `json:"hostname" yaml:"hostname"`
	Hwaddr   string `json:"hwaddr" yaml:"hwaddr"`
	Address  string `json:"address" yaml:"address"`
	Type     string `json:"type" yaml:"type"` // "dynamic" or "static"
	Location string `json:"location" yaml:"location"`
}

package api

import "time"

// Devices maps a device name to its key/value configuration ("type" is one key).
type Devices map[string]map[string]string

// InstancePut holds the fields of an instance that PUT replaces. A PUT
// with Restore set restores that snapshot instead (LXD's way).
type InstancePut struct {
	Architecture string            `json:"architecture" yaml:"architecture"`
	Config       map[string]string `json:"config" yaml:"config"`
	Devices      Devices           `json:"devices" yaml:"devices"`
	Ephemeral    bool              `json:"ephemeral" yaml:"ephemeral"`
	Profiles     []string          `json:"profiles" yaml:"profiles"`
	Stateful     bool              `json:"stateful" yaml:"stateful"`
	Description  string            `json:"description" yaml:"description"`
	Restore      string            `json:"restore,omitempty" yaml:"restore,omitempty"`
}

// Instance is an instance as returned by GET /1.0/instances/{name}.
type Instance struct {
	InstancePut     `yaml:",inline"`
	Name            string            `json:"name" yaml:"name"`
	Type            string            `json:"type" yaml:"type"`
	Status          string            `json:"status" yaml:"status"`
	StatusCode      StatusCode        `json:"status_code" yaml:"status_code"`
	CreatedAt       time.Time         `json:"created_at" yaml:"created_at"`
	LastUsedAt      time.Time         `json:"last_used_at" yaml:"last_used_at"`
	Location        string            `json:"location" yaml:"location"`
	ExpandedConfig  map[string]string `json:"expanded_config" yaml:"expanded_config"`
	ExpandedDevices Devices           `json:"expanded_devices" yaml:"expanded_devices"`
	Project         string            `json:"project" yaml:"project"`
}

// InstanceFull is an instance with its runtime state (recursion=2).
type InstanceFull struct {
	Instance `yaml:",inline"`
	State    *InstanceState `json:"state" yaml:"state"`
}

// InstanceSource says where a new instance's root filesystem comes from.
type InstanceSource struct {
	Type        string `json:"type" yaml:"type"` // "image" or "copy"
	Alias       string `json:"alias,omitempty" yaml:"alias,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty" yaml:"fingerprint,omitempty"`
	// Source names the instance (or "instance/snapshot") to copy.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// InstancesPost is the body of POST /1.0/instances.
type InstancesPost struct {
	InstancePut `yaml:",inline"`
	Name        string         `json:"name" yaml:"name"`
	Source      InstanceSource `json:"source" yaml:"source"`
	Type        string         `json:"type" yaml:"type"`
	// Start asks for the instance to be started once created (launch).
	Start bool `json:"start" yaml:"start"`
	// WaitReady makes the operation finish only when the guest's init
	// reports that boot finished (implies Start).
	WaitReady bool `json:"wait_ready,omitempty" yaml:"wait_ready,omitempty"`
}

// InstancePost is the body of POST /1.0/instances/{name} (rename).
type InstancePost struct {
	Name string `json:"name" yaml:"name"`
}

// InstanceState is the runtime state of an instance.
type InstanceState struct {
	Status     string                          `json:"status" yaml:"status"`
	StatusCode StatusCode                      `json:"status_code" yaml:"status_code"`
	Disk       map[string]InstanceStateDisk    `json:"disk" yaml:"disk"`
	Memory     InstanceStateMemory             `json:"memory" yaml:"memory"`
	Network    map[string]InstanceStateNetwork `json:"network" yaml:"network"`
	Pid        int64                           `json:"pid" yaml:"pid"`
	Processes  int64                           `json:"processes" yaml:"processes"`
	CPU        InstanceStateCPU                `json:"cpu" yaml:"cpu"`
	// Ready is true once the guest's init reported that boot finished.
	Ready bool `json:"ready" yaml:"ready"`
}

// InstanceStateDisk is the usage of one disk device.
type InstanceStateDisk struct {
	Usage int64 `json:"usage" yaml:"usage"`
}

// InstanceStateMemory is the memory use of an instance in bytes.
type InstanceStateMemory struct {
	Usage     int64 `json:"usage" yaml:"usage"`
	UsagePeak int64 `json:"usage_peak" yaml:"usage_peak"`
}

// InstanceStateCPU is the CPU time used, in nanoseconds.
type InstanceStateCPU struct {
	Usage int64 `json:"usage" yaml:"usage"`
}

// InstanceStateNetwork is one network interface of an instance.
type InstanceStateNetwork struct {
	Addresses []InstanceStateNetworkAddress `json:"addresses" yaml:"addresses"`
	Hwaddr    string                        `json:"hwaddr" yaml:"hwaddr"`
	HostName  string                        `json:"host_name" yaml:"host_name"`
	State     string                        `json:"state" yaml:"state"`
	Type      string                        `json:"type" yaml:"type"`
	Counters  *InstanceStateNetworkCounters `json:"counters,omitempty" yaml:"counters,omitempty"`
}

// InstanceStateNetworkCounters are an interface's traffic counters, seen
// from the guest.
type InstanceStateNetworkCounters struct {
	BytesReceived   int64 `json:"bytes_received" yaml:"bytes_received"`
	BytesSent       int64 `json:"bytes_sent" yaml:"bytes_sent"`
	PacketsReceived int64 `json:"packets_received" yaml:"packets_received"`
	PacketsSent     int64 `json:"packets_sent" yaml:"packets_sent"`
}

// InstanceStateNetworkAddress is one address of an interface.
type InstanceStateNetworkAddress struct {
	Family  string `json:"family" yaml:"family"`
	Address string `json:"address" yaml:"address"`
	Netmask string `json:"netmask" yaml:"netmask"`
	Scope   string `json:"scope" yaml:"scope"`
}

// State actions accepted by PUT /1.0/instances/{name}/state.
const (
	ActionStart    = "start"
	ActionStop     = "stop"
	ActionRestart  = "restart"
	ActionFreeze   = "freeze"
	ActionUnfreeze = "unfreeze"
)

// InstanceStatePut is the body of PUT /1.0/instances/{name}/state.
type InstanceStatePut struct {
	Action   string `json:"action"`
	Timeout  int    `json:"timeout"` // seconds of clean shutdown before a kill; -1 or 0 (unset) mean the daemon's default, 30; kill at once with Force
	Force    bool   `json:"force"`
	Stateful bool   `json:"stateful"`
}

// InstanceExecPost is the body of POST /1.0/instances/{name}/exec.
type InstanceExecPost struct {
	Command      []string          `json:"command"`
	WaitForWS    bool              `json:"wait-for-websocket"`
	Interactive  bool              `json:"interactive"`
	Environment  map[string]string `json:"environment"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	RecordOutput bool              `json:"record-output"`
	User         uint32            `json:"user"`
	Group        uint32            `json:"group"`
	Cwd          string            `json:"cwd"`
}

// InstanceExecControl is a message on the exec control websocket.
type InstanceExecControl struct {
	Command string            `json:"command"` // "window-resize" or "signal"
	Args    map[string]string `json:"args"`
	Signal  int               `json:"signal"`
}

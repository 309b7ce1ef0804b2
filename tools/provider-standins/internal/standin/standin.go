// Package standin holds what the kubespray-ha stand-in provider plugins have
// in common: the provider-configuration methods (CheckConfig, DiffConfig,
// Configure), plugin info, schema, logging to the engine and the
// property-marshalling options.
//
// These are NOT Pulumi's providers.  They exist because the Go module proxy
// does not serve the real provider modules, and the Pulumi engine cannot run
// a program that uses a package whose plugin it cannot find.  See
// tools/provider-standins/README.md.
package standin

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/pulumi/pulumi/pkg/v3/resource/provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// MarshalOpts keeps secrets and unknowns as such in both directions: the
// stand-ins tell the engine they accept secrets, so secret inputs arrive as
// secrets and must leave (as outputs) as secrets.
func MarshalOpts(label string) plugin.MarshalOptions {
	return plugin.MarshalOptions{
		Label:         label,
		KeepUnknowns:  true,
		KeepSecrets:   true,
		KeepResources: false, // Configure says AcceptResources: false
	}
}

// Unmarshal turns a gRPC struct into a PropertyMap (nil struct => empty map).
func Unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, MarshalOpts(label))
}

// Marshal turns a PropertyMap into a gRPC struct.
func Marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, MarshalOpts(label))
}

// Base implements the methods both stand-ins answer the same way.  Embed it
// and set Name/Version/Schema.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer

	Name    string // package name, e.g. "command"
	Version string // the version of the real provider this stands in for
	Schema  string // JSON schema returned by GetSchema

	// LogFunc, when set, receives the log messages instead of the engine
	// (tests).
	LogFunc func(urn, msg string)

	mu   sync.Mutex
	host *provider.HostClient
}

// SetHost records the engine's host client (nil in attach mode until Attach).
func (b *Base) SetHost(h *provider.HostClient) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.host = h
}

// Log sends an info message about urn to the engine (dropped when there is
// no engine connection).
func (b *Base) Log(ctx context.Context, urn string, msg string) {
	if b.LogFunc != nil {
		b.LogFunc(urn, msg)
		return
	}
	b.mu.Lock()
	h := b.host
	b.mu.Unlock()
	if h == nil {
		return
	}
	_ = h.Log(ctx, diag.Info, resource.URN(urn), msg)
}

// GetPluginInfo reports the version of the real provider (so the engine and
// `pulumi about` see the version the SDK asked for).
func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

// GetSchema returns the stand-in's (small) schema.
func (b *Base) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.NotFound, "stand-in %s provider: no subpackage %q", b.Name, req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: b.Schema}, nil
}

// CheckConfig accepts any provider configuration as it is.
func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig reports an in-place update of the provider resource when any
// configuration value changed, no change otherwise; never a replacement.
func (b *Base) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldsStruct := req.GetOldInputs()
	if oldsStruct == nil {
		oldsStruct = req.GetOlds()
	}
	olds, err := Unmarshal("olds", oldsStruct)
	if err != nil {
		return nil, err
	}
	news, err := Unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, k := range UnionKeys(olds, news) {
		if !SameValue(olds[k], news[k]) {
			changed = append(changed, string(k))
		}
	}
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed}, nil
}

// Configure accepts any configuration and tells the engine that secrets may
// be sent as secrets and that Create/Update are called in previews too.
func (b *Base) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{
		AcceptSecrets:   true,
		SupportsPreview: true,
		AcceptResources: false,
		AcceptOutputs:   false,
	}, nil
}

// Attach is the engine connecting to a provider started in attach mode
// (`pulumi-resource-x` run without the engine address argument).
func (b *Base) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	h, err := provider.NewHostClient(req.GetAddress())
	if err != nil {
		return nil, err
	}
	b.SetHost(h)
	return &emptypb.Empty{}, nil
}

// Cancel is a no-op: running commands are bound to the request contexts.
func (b *Base) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Invoke: the stand-ins implement no functions.
func (b *Base) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, status.Errorf(codes.Unimplemented,
		"stand-in %s provider (kubespray-ha tools/provider-standins): function %s is not supported",
		b.Name, req.GetTok())
}

// UnionKeys returns the keys of a and b, sorted.
func UnionKeys(a, b resource.PropertyMap) []resource.PropertyKey {
	seen := map[resource.PropertyKey]bool{}
	var keys []resource.PropertyKey
	for _, m := range []resource.PropertyMap{a, b} {
		for _, k := range m.StableKeys() {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// SameValue says whether an old and a new input value are the same for
// diffing: a missing or null value equals a missing or null value; a new
// value that is (or contains) an unknown is never the same as a known old one
// (the engine only sends unknowns in previews); a change of secretness alone
// counts as a change (the stored outputs must change with it).
func SameValue(old, nw resource.PropertyValue) bool {
	if nw.ContainsUnknowns() {
		return false
	}
	if !old.HasValue() && !nw.HasValue() {
		return true
	}
	return old.DeepEquals(nw)
}

// Unsupported is the error for a method or type a stand-in does not support.
func Unsupported(name, format string, args ...any) error {
	return status.Errorf(codes.Unimplemented,
		"stand-in pulumi-resource-%s (kubespray-ha tools/provider-standins, not Pulumi's provider): %s",
		name, fmt.Sprintf(format, args...))
}

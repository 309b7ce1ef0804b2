// Package command is the stand-in for pulumi-resource-command 1.2.1: it runs
// command:local:Command resources the way the @pulumi/command 1.2.1 SDK
// documents them.  Written for kubespray-ha against the public provider gRPC
// interface; it is not Pulumi's provider and shares no code with it.  See
// tools/provider-standins/README.md for what is (not) implemented.
package command

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"kubespray-ha/provider-standins/internal/standin"
)

// Version is the @pulumi/command version this stands in for.
const Version = "1.2.1"

//go:embed schema.json
var schemaJSON string

// Provider is the command stand-in's gRPC server.
type Provider struct {
	standin.Base
}

// New makes the provider.
func New() *Provider {
	return &Provider{Base: standin.Base{Name: "command", Version: Version, Schema: schemaJSON}}
}

func resourceType(urn, typ string) string {
	if typ != "" {
		return typ
	}
	if u := resource.URN(urn); u.IsValid() {
		return string(u.Type())
	}
	return ""
}

func (p *Provider) checkType(urn, typ string) error {
	t := resourceType(urn, typ)
	if t == LocalCommandType {
		return nil
	}
	return standin.Unsupported("command",
		"resource type %s is not supported; the stand-in implements %s only "+
			"(command:remote:* needs the real provider)", t, LocalCommandType)
}

// Check passes the inputs through unchanged, reporting type errors and
// unknown property names as check failures.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	news, err := standin.Unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for prop, reason := range checkInputs(news) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

// Diff: see Diff in diff.go.
func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	oldStruct := req.GetOldInputs()
	if oldStruct == nil {
		oldStruct = req.GetOlds()
	}
	olds, err := standin.Unmarshal("olds", oldStruct)
	if err != nil {
		return nil, err
	}
	news, err := standin.Unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	return Diff(olds, news).Response(), nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func timeout(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}

// outputs are the inputs (secretness kept) plus stdout and stderr, which are
// secret when any input is secret (they may well contain it).
func outputs(inputs resource.PropertyMap, s *spec, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range inputs {
		if isInputKey(k) {
			out[k] = v
		}
	}
	if s != nil && s.AnySecret {
		if !stdout.IsComputed() {
			stdout = resource.MakeSecret(stdout)
		}
		if !stderr.IsComputed() {
			stderr = resource.MakeSecret(stderr)
		}
	}
	out[pStdout] = stdout
	out[pStderr] = stderr
	return out
}

func unknownString() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

func (p *Provider) logger(ctx context.Context, urn string) func(string) {
	return func(line string) { p.Log(ctx, urn, line) }
}

// Create runs `create` (nothing in a preview, where stdout/stderr are
// unknown).
func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	inputs, err := standin.Unmarshal("properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		st, err := standin.Marshal("properties", outputs(inputs, nil, unknownString(), unknownString()))
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: st}, nil
	}
	s, err := readSpec(inputs)
	if err != nil {
		return nil, err
	}
	var res runResult
	if s.Create != nil {
		res, err = run(ctx, &runRequest{
			Op: "create", Command: *s.Create, Spec: s,
			Timeout: timeout(req.GetTimeout()), LogLine: p.logger(ctx, req.GetUrn()),
		})
		if err != nil {
			return nil, err
		}
	}
	st, err := standin.Marshal("properties",
		outputs(inputs, s, resource.NewStringProperty(res.Stdout), resource.NewStringProperty(res.Stderr)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: newID(), Properties: st}, nil
}

// previous returns the plain stdout/stderr of an old state.
func previous(olds resource.PropertyMap) (string, string) {
	str := func(k resource.PropertyKey) string {
		if v := plain(olds[k]); v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	return str(pStdout), str(pStderr)
}

// Update runs `update`, or `create` when there is no `update` (nothing in a
// preview, where stdout/stderr are unknown).  With neither, the old
// stdout/stderr are kept.
func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := standin.Unmarshal("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := standin.Unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		st, err := standin.Marshal("properties", outputs(news, nil, unknownString(), unknownString()))
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: st}, nil
	}
	s, err := readSpec(news)
	if err != nil {
		return nil, err
	}
	prevOut, prevErr := previous(olds)
	res := runResult{Stdout: prevOut, Stderr: prevErr}
	command, op := s.Update, "update"
	if command == nil {
		command, op = s.Create, "create (as update)"
	}
	if command != nil {
		res, err = run(ctx, &runRequest{
			Op: op, Command: *command, Spec: s,
			Prev: true, PrevStdout: prevOut, PrevStderr: prevErr,
			Timeout: timeout(req.GetTimeout()), LogLine: p.logger(ctx, req.GetUrn()),
		})
		if err != nil {
			return nil, err
		}
	}
	st, err := standin.Marshal("properties",
		outputs(news, s, resource.NewStringProperty(res.Stdout), resource.NewStringProperty(res.Stderr)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: st}, nil
}

// Delete runs the old state's `delete`, with its environment, dir,
// interpreter, stdin and logging, and its stdout/stderr in the environment.
func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	olds, err := standin.Unmarshal("properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	s, err := readSpec(olds)
	if err != nil {
		return nil, err
	}
	if s.Delete == nil {
		return &emptypb.Empty{}, nil
	}
	prevOut, prevErr := previous(olds)
	if _, err := run(ctx, &runRequest{
		Op: "delete", Command: *s.Delete, Spec: s,
		Prev: true, PrevStdout: prevOut, PrevStderr: prevErr,
		Timeout: timeout(req.GetTimeout()), LogLine: p.logger(ctx, req.GetUrn()),
	}); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read (pulumi refresh / import) returns the state as it is: a command has
// nothing to read back.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := p.checkType(req.GetUrn(), req.GetType()); err != nil {
		return nil, err
	}
	if req.GetProperties() == nil || len(req.GetProperties().GetFields()) == 0 {
		return nil, standin.Unsupported("command", "import of %s is not supported", req.GetUrn())
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// String makes the provider printable in test failures.
func (p *Provider) String() string { return fmt.Sprintf("stand-in command provider %s", Version) }

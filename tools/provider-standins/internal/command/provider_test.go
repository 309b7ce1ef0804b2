package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"kubespray-ha/provider-standins/internal/standin"
)

const testURN = "urn:pulumi:dev::proj::command:local:Command::c1"

type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) add(_ string, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, msg)
}

func (l *logRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func newTestProvider(t *testing.T) (*Provider, *logRecorder) {
	t.Helper()
	p := New()
	rec := &logRecorder{}
	p.LogFunc = rec.add
	return p, rec
}

func mustMarshal(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := standin.Marshal("test", m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := standin.Unmarshal("test", s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateUpdateDeleteLifecycle(t *testing.T) {
	ctx := context.Background()
	p, logs := newTestProvider(t)
	dir := t.TempDir()
	inputs := resource.PropertyMap{
		"create":      str(`echo "created A=$A"; cat; echo; echo warn >&2; pwd > pwd.txt`),
		"delete":      str(`printf '%s|%s' "$PULUMI_COMMAND_STDOUT" "$PULUMI_COMMAND_STDERR" > deleted.txt`),
		"dir":         str(dir),
		"environment": obj(resource.PropertyMap{"A": str("1")}),
		"stdin":       str("from-stdin"),
	}
	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, inputs)})
	if err != nil {
		t.Fatal(err)
	}
	if cr.GetId() == "" {
		t.Error("empty id")
	}
	out := mustUnmarshal(t, cr.GetProperties())
	if got := out["stdout"].StringValue(); got != "created A=1\nfrom-stdin" {
		t.Errorf("stdout = %q", got)
	}
	if got := out["stderr"].StringValue(); got != "warn" {
		t.Errorf("stderr = %q", got)
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "pwd.txt"))); got != dir {
		t.Errorf("ran in %q, want %q", got, dir)
	}
	for _, k := range []resource.PropertyKey{"create", "delete", "dir", "environment", "stdin"} {
		if !out[k].DeepEquals(inputs[k]) {
			t.Errorf("output %s = %v, want the input %v", k, out[k], inputs[k])
		}
	}
	if got := strings.Join(logs.take(), "|"); !strings.Contains(got, "created A=1") || !strings.Contains(got, "warn") {
		t.Errorf("logged %q; want stdout and stderr lines", got)
	}

	// Update without `update` re-runs create, with the previous outputs in
	// the environment.
	news := with(inputs, "environment", obj(resource.PropertyMap{"A": str("2")}),
		"create", str(`echo "A=$A prev=[$PULUMI_COMMAND_STDOUT]"`))
	ur, err := p.Update(ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: mustMarshal(t, news),
	})
	if err != nil {
		t.Fatal(err)
	}
	out2 := mustUnmarshal(t, ur.GetProperties())
	if got := out2["stdout"].StringValue(); got != "A=2 prev=[created A=1\nfrom-stdin]" {
		t.Errorf("update (create) stdout = %q", got)
	}

	// Update with `update` runs it; addPreviousOutputInEnv=false hides the
	// previous outputs.
	news3 := with(news, "update", str(`echo "upd prev=[${PULUMI_COMMAND_STDOUT-unset}]"`),
		"addPreviousOutputInEnv", resource.NewBoolProperty(false))
	ur3, err := p.Update(ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Id: cr.GetId(), Olds: ur.GetProperties(), News: mustMarshal(t, news3),
	})
	if err != nil {
		t.Fatal(err)
	}
	out3 := mustUnmarshal(t, ur3.GetProperties())
	if got := out3["stdout"].StringValue(); got != "upd prev=[unset]" {
		t.Errorf("update stdout = %q", got)
	}

	// Delete runs the old state's delete with its stdout/stderr (when
	// addPreviousOutputInEnv is not false).
	dr := with(out2, "addPreviousOutputInEnv", resource.NewBoolProperty(true))
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{
		Urn: testURN, Id: cr.GetId(), Properties: mustMarshal(t, dr),
	}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "deleted.txt")); got != "A=2 prev=[created A=1\nfrom-stdin]|" {
		t.Errorf("delete saw %q", got)
	}
}

func TestPreviewRunsNothing(t *testing.T) {
	ctx := context.Background()
	p, _ := newTestProvider(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	inputs := resource.PropertyMap{"create": str("touch " + marker), "update": str("touch " + marker)}
	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	out := mustUnmarshal(t, cr.GetProperties())
	if !out["stdout"].IsComputed() || !out["stderr"].IsComputed() {
		t.Errorf("preview outputs not unknown: %v", out)
	}
	olds := with(inputs, "stdout", str("x"), "stderr", str(""))
	news := with(inputs, "create", unknown())
	ur, err := p.Update(ctx, &pulumirpc.UpdateRequest{
		Urn: testURN, Id: "abc", Olds: mustMarshal(t, olds), News: mustMarshal(t, news), Preview: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := mustUnmarshal(t, ur.GetProperties()); !out["stdout"].IsComputed() {
		t.Errorf("preview update stdout not unknown: %v", out["stdout"])
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a preview ran the command")
	}
}

func TestSecretInputsGiveSecretOutputsAndRedactedLogs(t *testing.T) {
	ctx := context.Background()
	p, logs := newTestProvider(t)
	inputs := resource.PropertyMap{
		"create":      str(`echo "token is $TOKEN"`),
		"environment": obj(resource.PropertyMap{"TOKEN": secret(str("s3cr3t-value")), "PLAIN": str("p")}),
	}
	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, inputs)})
	if err != nil {
		t.Fatal(err)
	}
	// The wire form must carry the secret signature.
	if !strings.Contains(cr.GetProperties().String(), "1b47061264138c4ac30d75fd1eb44270") {
		t.Errorf("no secret signature in the response: %v", cr.GetProperties())
	}
	out := mustUnmarshal(t, cr.GetProperties())
	if !out["stdout"].IsSecret() || !out["stderr"].IsSecret() {
		t.Errorf("stdout/stderr not secret: %v / %v", out["stdout"], out["stderr"])
	}
	if got := out["stdout"].SecretValue().Element.StringValue(); got != "token is s3cr3t-value" {
		t.Errorf("stdout = %q", got)
	}
	env := out["environment"].ObjectValue()
	if !env["TOKEN"].IsSecret() || env["PLAIN"].IsSecret() {
		t.Errorf("environment secretness not kept: %v", env)
	}
	if out["create"].IsSecret() {
		t.Error("a plain input came back secret")
	}
	got := strings.Join(logs.take(), "\n")
	if strings.Contains(got, "s3cr3t-value") || !strings.Contains(got, "token is [secret]") {
		t.Errorf("log not redacted: %q", got)
	}

	// Without secret inputs, stdout is plain.
	cr2, err := p.Create(ctx, &pulumirpc.CreateRequest{
		Urn: testURN, Properties: mustMarshal(t, resource.PropertyMap{"create": str("echo hi")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out := mustUnmarshal(t, cr2.GetProperties()); out["stdout"].IsSecret() {
		t.Error("stdout secret without secret inputs")
	}
}

func TestFailureQuotesTailAndRedacts(t *testing.T) {
	p, _ := newTestProvider(t)
	inputs := resource.PropertyMap{
		"create":      str(`for i in $(seq 1 30); do echo "line $i"; done; echo "bad $PW" >&2; exit 3`),
		"environment": obj(resource.PropertyMap{"PW": secret(str("hunter22"))}),
	}
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, inputs)})
	if err == nil {
		t.Fatal("no error for exit 3")
	}
	msg := err.Error()
	for _, want := range []string{"exit status 3", "bad [secret]", "line 30", "earlier lines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter22") || strings.Contains(msg, "line 5\n") {
		t.Errorf("error leaks the secret or is not a tail: %s", msg)
	}
}

func TestLoggingModesAndInterpreter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		logging string
		want    string
	}{
		{"", "o|e"}, {"stdoutAndStderr", "o|e"}, {"stdout", "o"}, {"stderr", "e"}, {"none", ""},
	} {
		p, logs := newTestProvider(t)
		in := resource.PropertyMap{
			"create":      str("echo o; sleep 0.05; echo e >&2"),
			"interpreter": arr(str("/bin/sh"), str("-ec")),
		}
		if tc.logging != "" {
			in["logging"] = str(tc.logging)
		}
		cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, in)})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(logs.take(), "|"); got != tc.want {
			t.Errorf("logging %q: logged %q, want %q", tc.logging, got, tc.want)
		}
		out := mustUnmarshal(t, cr.GetProperties())
		if out["stdout"].StringValue() != "o" || out["stderr"].StringValue() != "e" {
			t.Errorf("logging %q changed the captured output: %v", tc.logging, out)
		}
	}
}

func TestMissingDirFails(t *testing.T) {
	p, _ := newTestProvider(t)
	in := resource.PropertyMap{"create": str("true"), "dir": str(filepath.Join(t.TempDir(), "nope"))}
	if _, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: mustMarshal(t, in)}); err == nil {
		t.Error("no error for a missing dir")
	}
}

func TestCheck(t *testing.T) {
	p, _ := newTestProvider(t)
	ctx := context.Background()
	good := mustMarshal(t, resource.PropertyMap{"create": str("true"), "triggers": arr(resource.NewNumberProperty(1))})
	r, err := p.Check(ctx, &pulumirpc.CheckRequest{Urn: testURN, News: good})
	if err != nil || len(r.GetFailures()) != 0 {
		t.Fatalf("check failed: %v %v", err, r.GetFailures())
	}
	if r.GetInputs().String() != good.String() {
		t.Errorf("inputs not passed through")
	}
	bad := mustMarshal(t, resource.PropertyMap{"create": resource.NewNumberProperty(1), "logging": str("loud"), "bogus": str("x")})
	r, err = p.Check(ctx, &pulumirpc.CheckRequest{Urn: testURN, News: bad})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range r.GetFailures() {
		got[f.GetProperty()] = true
	}
	for _, k := range []string{"create", "logging", "bogus"} {
		if !got[k] {
			t.Errorf("no check failure for %s: %v", k, r.GetFailures())
		}
	}
	_, err = p.Check(ctx, &pulumirpc.CheckRequest{Urn: "urn:pulumi:dev::proj::command:remote:Command::r", News: good})
	if err == nil || !strings.Contains(err.Error(), "command:remote:Command is not supported") {
		t.Errorf("remote command not rejected clearly: %v", err)
	}
}

func TestProviderBasics(t *testing.T) {
	p, _ := newTestProvider(t)
	ctx := context.Background()
	info, err := p.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.2.1" {
		t.Errorf("plugin info %v %v", info, err)
	}
	cfg, err := p.Configure(ctx, &pulumirpc.ConfigureRequest{})
	if err != nil || !cfg.GetAcceptSecrets() || !cfg.GetSupportsPreview() {
		t.Errorf("configure %v %v", cfg, err)
	}
	if _, err := p.Invoke(ctx, &pulumirpc.InvokeRequest{Tok: "command:local:run"}); err == nil {
		t.Error("invoke did not fail")
	}
}

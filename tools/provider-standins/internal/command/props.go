package command

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The resource types of the @pulumi/command 1.2.1 SDK.
const (
	LocalCommandType = "command:local:Command"
)

// The input properties of command:local:Command as the Node SDK 1.2.1 sends
// them (node_modules/@pulumi/command/local/command.js).
const (
	pAddPreviousOutputInEnv = "addPreviousOutputInEnv"
	pArchivePaths           = "archivePaths"
	pAssetPaths             = "assetPaths"
	pCreate                 = "create"
	pDelete                 = "delete"
	pDir                    = "dir"
	pEnvironment            = "environment"
	pInterpreter            = "interpreter"
	pLogging                = "logging"
	pStdin                  = "stdin"
	pTriggers               = "triggers"
	pUpdate                 = "update"
)

// The output-only properties.
const (
	pStdout  = "stdout"
	pStderr  = "stderr"
	pArchive = "archive"
	pAssets  = "assets"
)

// inputKeys lists every input property (the stand-in's diff looks at these
// only, so output-only properties in the old state never cause a diff).
var inputKeys = []resource.PropertyKey{
	pAddPreviousOutputInEnv, pArchivePaths, pAssetPaths, pCreate, pDelete, pDir,
	pEnvironment, pInterpreter, pLogging, pStdin, pTriggers, pUpdate,
}

func isInputKey(k resource.PropertyKey) bool {
	for _, ik := range inputKeys {
		if ik == k {
			return true
		}
	}
	return false
}

// Logging values (the SDK's enums.local.Logging).
const (
	LogStdout          = "stdout"
	LogStderr          = "stderr"
	LogStdoutAndStderr = "stdoutAndStderr"
	LogNone            = "none"
)

// plain strips secret wrappers (deeply).
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = plain(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

// spec is what a local command run needs, read from a property map (inputs,
// or the old outputs for delete).
type spec struct {
	Create, Update, Delete *string
	Dir                    string
	Environment            map[string]string
	Interpreter            []string
	Stdin                  *string
	Logging                string
	AddPreviousOutputInEnv bool

	// Every string that is secret somewhere in the inputs: redacted from
	// the log lines and error messages the stand-in writes.
	Secrets []string
	// Any input is (or contains) a secret: stdout/stderr are then returned
	// as secrets too.
	AnySecret bool
}

func optString(m resource.PropertyMap, k resource.PropertyKey) (*string, error) {
	v := plain(m[k])
	if !v.HasValue() {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("%s must be a string, not %s", k, v.TypeString())
	}
	s := v.StringValue()
	return &s, nil
}

// readSpec reads the run settings; values must be known (not in a preview).
func readSpec(m resource.PropertyMap) (*spec, error) {
	s := &spec{Logging: LogStdoutAndStderr, AddPreviousOutputInEnv: true}
	var err error
	if s.Create, err = optString(m, pCreate); err != nil {
		return nil, err
	}
	if s.Update, err = optString(m, pUpdate); err != nil {
		return nil, err
	}
	if s.Delete, err = optString(m, pDelete); err != nil {
		return nil, err
	}
	if s.Stdin, err = optString(m, pStdin); err != nil {
		return nil, err
	}
	if d, err := optString(m, pDir); err != nil {
		return nil, err
	} else if d != nil {
		s.Dir = *d
	}
	if l, err := optString(m, pLogging); err != nil {
		return nil, err
	} else if l != nil && *l != "" {
		switch *l {
		case LogStdout, LogStderr, LogStdoutAndStderr, LogNone:
			s.Logging = *l
		default:
			return nil, fmt.Errorf("logging must be one of stdout, stderr, stdoutAndStderr, none; not %q", *l)
		}
	}
	if v := plain(m[pAddPreviousOutputInEnv]); v.HasValue() {
		if !v.IsBool() {
			return nil, fmt.Errorf("addPreviousOutputInEnv must be a boolean, not %s", v.TypeString())
		}
		s.AddPreviousOutputInEnv = v.BoolValue()
	}
	if v := plain(m[pEnvironment]); v.HasValue() {
		if !v.IsObject() {
			return nil, fmt.Errorf("environment must be a map of strings, not %s", v.TypeString())
		}
		s.Environment = map[string]string{}
		for k, e := range v.ObjectValue() {
			if !e.HasValue() {
				continue
			}
			if !e.IsString() {
				return nil, fmt.Errorf("environment.%s must be a string, not %s", k, e.TypeString())
			}
			s.Environment[string(k)] = e.StringValue()
		}
	}
	if v := plain(m[pInterpreter]); v.HasValue() {
		if !v.IsArray() {
			return nil, fmt.Errorf("interpreter must be a list of strings, not %s", v.TypeString())
		}
		for i, e := range v.ArrayValue() {
			if !e.IsString() {
				return nil, fmt.Errorf("interpreter[%d] must be a string, not %s", i, e.TypeString())
			}
			s.Interpreter = append(s.Interpreter, e.StringValue())
		}
	}
	if len(s.Interpreter) == 0 {
		s.Interpreter = []string{"/bin/sh", "-c"}
	}
	for k, v := range m {
		if isInputKey(k) && v.ContainsSecrets() {
			s.AnySecret = true
			collectSecretStrings(v, false, &s.Secrets)
		}
	}
	sort.Slice(s.Secrets, func(i, j int) bool { return len(s.Secrets[i]) > len(s.Secrets[j]) })
	return s, nil
}

// collectSecretStrings appends every string under a secret in v.
func collectSecretStrings(v resource.PropertyValue, inSecret bool, out *[]string) {
	switch {
	case v.IsSecret():
		collectSecretStrings(v.SecretValue().Element, true, out)
	case v.IsString():
		if inSecret && len(v.StringValue()) >= 4 {
			*out = append(*out, v.StringValue())
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			collectSecretStrings(e, inSecret, out)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			collectSecretStrings(e, inSecret, out)
		}
	}
}

// checkInputs validates the types of the known input values and rejects
// unknown property names; it returns one message per problem, by property.
func checkInputs(m resource.PropertyMap) map[string]string {
	failures := map[string]string{}
	str := func(k resource.PropertyKey) {
		v := plain(m[k])
		if v.HasValue() && !v.ContainsUnknowns() && !v.IsString() {
			failures[string(k)] = fmt.Sprintf("%s must be a string, not %s", k, v.TypeString())
		}
	}
	strList := func(k resource.PropertyKey) {
		v := plain(m[k])
		if !v.HasValue() || v.IsComputed() {
			return
		}
		if !v.IsArray() {
			failures[string(k)] = fmt.Sprintf("%s must be a list of strings, not %s", k, v.TypeString())
			return
		}
		for i, e := range v.ArrayValue() {
			if e.HasValue() && !e.IsComputed() && !e.IsString() {
				failures[string(k)] = fmt.Sprintf("%s[%d] must be a string, not %s", k, i, e.TypeString())
			}
		}
	}
	for _, k := range []resource.PropertyKey{pCreate, pUpdate, pDelete, pDir, pStdin} {
		str(k)
	}
	strList(pInterpreter)
	strList(pArchivePaths)
	strList(pAssetPaths)
	if v := plain(m[pLogging]); v.IsString() {
		switch v.StringValue() {
		case LogStdout, LogStderr, LogStdoutAndStderr, LogNone:
		default:
			failures[pLogging] = fmt.Sprintf("logging must be one of stdout, stderr, stdoutAndStderr, none; not %q",
				v.StringValue())
		}
	} else {
		str(pLogging)
	}
	if v := plain(m[pAddPreviousOutputInEnv]); v.HasValue() && !v.IsComputed() && !v.IsBool() {
		failures[pAddPreviousOutputInEnv] = "addPreviousOutputInEnv must be a boolean, not " + v.TypeString()
	}
	if v := plain(m[pEnvironment]); v.HasValue() && !v.IsComputed() {
		if !v.IsObject() {
			failures[pEnvironment] = "environment must be a map of strings, not " + v.TypeString()
		} else {
			for k, e := range v.ObjectValue() {
				if e.HasValue() && !e.IsComputed() && !e.IsString() {
					failures[pEnvironment] = fmt.Sprintf("environment.%s must be a string, not %s", k, e.TypeString())
				}
			}
		}
	}
	if v := plain(m[pTriggers]); v.HasValue() && !v.IsComputed() && !v.IsArray() {
		failures[pTriggers] = "triggers must be a list, not " + v.TypeString()
	}
	for k := range m {
		if !isInputKey(k) && !resource.IsInternalPropertyKey(k) {
			failures[string(k)] = fmt.Sprintf("unknown property %q for %s", k, LocalCommandType)
		}
	}
	return failures
}

// The fnshift sidecar as Kubernetes objects: its container, volumes and the paths the config must use.
// One source for `fnshift inject`, `fnshift init --kubernetes` and (checked by test/deploy) the kustomize files.
import pkg from '../../package.json' with { type: 'json' };

/** Where the sidecar finds things; `fnshift init --kubernetes` writes a config that uses exactly these. */
export const sidecarPaths = {
  configDir: '/etc/fnshift',
  configFile: '/etc/fnshift/fnshift.yaml',
  /** An emptyDir: runtime weights survive a container restart, not a new pod (the ConfigMap is the durable intent). */
  stateDir: '/var/lib/fnshift',
  stateFile: '/var/lib/fnshift/state.json',
  tokenDir: '/etc/fnshift-admin',
  tokenFile: '/etc/fnshift-admin/token',
} as const;

/**
 * The data port and the read-only probes port (`admin.probesListen`: /livez, /readyz, /metrics) face the
 * pod IP and are declared; the admin API that takes changes (`admin.listen`) stays on 127.0.0.1, as
 * Envoy's and Istio's do, so it is not declared: `kubectl port-forward` reaches it without that.
 */
export const sidecarPorts = {
  data: { name: 'fnshift-http', port: 8080 },
  probes: { name: 'fnshift-probes', port: 9902 },
  admin: { port: 9901 },
} as const;

export const SIDECAR_NAME = 'fnshift';
export const DEFAULT_IMAGE = `ghcr.io/fnshift/fnshift:${pkg.version}`;
export const DEFAULT_CONFIGMAP = 'fnshift-config';
export const DEFAULT_TOKEN_SECRET = 'fnshift-admin-token';
/** The distroless image has no shell and no `sleep`; node is the one binary an exec hook can run. */
export const IMAGE_NODE = '/nodejs/bin/node';
/** The uid:gid of distroless's `nonroot` user, the image's USER; numeric so runAsNonRoot can verify it. */
export const IMAGE_UID = 65532;

export type SidecarOptions = {
  image?: string;
  configMap?: string;
  /**
   * A Secret with key `token` for admin changes; undefined mounts none. Loopback alone does not keep out
   * the pod's other containers, which share it, so the token stays as defence in depth.
   */
  tokenSecret?: string;
  /** Kubernetes ≥ 1.29: an init container with restartPolicy Always. Otherwise a plain container. */
  isNative?: boolean;
};

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } };

function fieldEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** OTel resource attributes from the downward API; the same in every pod spec, so kustomize can carry it too. */
const OTEL_RESOURCE_ATTRIBUTES = [
  'k8s.pod.name=$(POD_NAME)',
  'k8s.namespace.name=$(POD_NAMESPACE)',
  'k8s.pod.uid=$(POD_UID)',
  'k8s.node.name=$(NODE_NAME)',
  `k8s.container.name=${SIDECAR_NAME}`,
].join(',');

type Timing = { periodSeconds: number; failureThreshold: number };

function httpProbe(path: string, timing: Timing) {
  return { httpGet: { path, port: sidecarPorts.probes.name }, timeoutSeconds: 2, ...timing };
}

/** On the probes port: the kubelet reaches the pod IP, never the pod's loopback where the admin API is. */
function probes() {
  return {
    // The app starts only once this passes (native sidecars): config loaded and every listener bound.
    startupProbe: { ...httpProbe('/readyz', { periodSeconds: 1, failureThreshold: 30 }), timeoutSeconds: 1 },
    // Process health only: never the legacy app or a function, or one slow upstream restarts every pod.
    livenessProbe: httpProbe('/livez', { periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: httpProbe('/readyz', { periodSeconds: 5, failureThreshold: 2 }),
  };
}

/** The fnshift container; a plain object ready to serialise into a pod spec. */
export function sidecarContainer(options: SidecarOptions = {}): Record<string, unknown> {
  const isNative = options.isNative ?? true;
  const mounts: Array<Record<string, unknown>> = [
    { name: 'fnshift-config', mountPath: sidecarPaths.configDir, readOnly: true },
    { name: 'fnshift-state', mountPath: sidecarPaths.stateDir },
  ];
  if (options.tokenSecret) {
    mounts.push({ name: 'fnshift-admin-token', mountPath: sidecarPaths.tokenDir, readOnly: true });
  }
  return {
    name: SIDECAR_NAME,
    image: options.image ?? DEFAULT_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    // Native sidecar (KEP-753): starts before the app, stops after it, restarts on its own.
    ...(isNative ? { restartPolicy: 'Always' } : {}),
    args: ['run', '-c', sidecarPaths.configFile],
    ports: [
      { name: sidecarPorts.data.name, containerPort: sidecarPorts.data.port, protocol: 'TCP' },
      { name: sidecarPorts.probes.name, containerPort: sidecarPorts.probes.port, protocol: 'TCP' },
    ],
    env: [
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_UID', 'metadata.uid'),
      fieldEnv('NODE_NAME', 'spec.nodeName'),
      { name: 'OTEL_SERVICE_NAME', value: SIDECAR_NAME },
      { name: 'OTEL_RESOURCE_ATTRIBUTES', value: OTEL_RESOURCE_ATTRIBUTES },
      // The heap follows the memory limit instead of V8's host-sized default.
      { name: 'NODE_OPTIONS', value: '--max-old-space-size-percentage=70' },
    ],
    ...probes(),
    // No CPU limit: CFS throttling adds latency to every proxied request.
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: IMAGE_UID,
      runAsGroup: IMAGE_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
  };
}

/** The pod volumes the container mounts: the config as a directory (never subPath, which never updates). */
export function sidecarVolumes(options: SidecarOptions = {}): Array<Record<string, unknown>> {
  const volumes: Array<Record<string, unknown>> = [
    { name: 'fnshift-config', configMap: { name: options.configMap ?? DEFAULT_CONFIGMAP } },
    { name: 'fnshift-state', emptyDir: { sizeLimit: '16Mi' } },
  ];
  if (options.tokenSecret) {
    volumes.push({ name: 'fnshift-admin-token', secret: { secretName: options.tokenSecret } });
  }
  return volumes;
}

export const sidecarVolumeNames = ['fnshift-config', 'fnshift-state', 'fnshift-admin-token'] as const;

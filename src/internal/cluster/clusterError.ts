/**
 * The cluster's own refusals: a leaf that the public `Cluster` and `Router` modules and the remote
 * delivery seam import, so none of them depends on another for it. Documented where it is re-exported
 * (`Cluster.ClusterError`).
 *
 * @internal
 */
import { Schema } from "effect"

/**
 * Why the cluster refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterError extends Schema.TaggedError<ClusterError>()("ClusterError", {
  reason: Schema.Literals([
    "UnknownComponent",
    "LimitsRequired",
    "ComponentMissing",
    "ComponentCorrupt",
    "StartFailed",
    "InvalidSpec",
    "Storage",
    "Unavailable",
    "Defect",
    "Unsatisfiable",
    "GroupChanged"
  ]),
  message: Schema.String
}) {}

/** A refusal of the cluster's own. */
export const refuse = (reason: ClusterError["reason"], message: string): ClusterError => new ClusterError({ reason, message })

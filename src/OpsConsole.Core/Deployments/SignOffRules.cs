using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Deployments;

/// <summary>
/// The four-eyes rules of a run's record, as one pure function of the run and the actor. The service
/// evaluates them inside the transaction that writes the signature, on the run's state as locked there.
/// </summary>
public static class SignOffRules
{
    /// <summary>The shortest reason that lets a run nobody signed as deployed be rolled back.</summary>
    public const int MinRollbackReasonLength = 10;

    /// <summary>
    /// Why <paramref name="actor"/> may not sign <paramref name="kind"/> on <paramref name="run"/>, or null when they may.
    /// <paramref name="reason"/> is what the signer wrote: a rollback of a run without a deployer's signature needs one.
    /// </summary>
    public static Refusal? Check(DeploymentRun run, OpsActor actor, SignOffKind kind, string? reason = null) =>
        Check(run, actor, kind, reason, reasonToCome: false);

    /// <summary>
    /// Why the button for <paramref name="kind"/> would be refused whatever reason is then written: what a page shows
    /// beside a disabled button before the signer starts.
    /// </summary>
    public static Refusal? CheckBeforeReason(DeploymentRun run, OpsActor actor, SignOffKind kind) =>
        Check(run, actor, kind, null, reasonToCome: true);

    /// <summary>True when rolling back <paramref name="run"/> needs a reason (nobody signed it as deployed).</summary>
    public static bool RollbackNeedsReason(DeploymentRun run) => run.Deployed is null;

    private static Refusal? Check(DeploymentRun run, OpsActor actor, SignOffKind kind, string? reason, bool reasonToCome)
    {
        if (actor.Lacks(PermissionFor(kind)) is { } forbidden)
        {
            return forbidden;
        }

        if (ReadOnlyRefusal(run) is { } readOnly)
        {
            return readOnly;
        }

        return kind switch
        {
            SignOffKind.Deployed => run.Deployed is { } d ? AlreadySigned(kind, d) : null,
            SignOffKind.Verified => CheckVerified(run, actor),
            SignOffKind.Approved => CheckApproved(run, actor),
            SignOffKind.RolledBack => CheckRolledBack(run, reason, reasonToCome),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }

    /// <summary>The permission a signature of <paramref name="kind"/> needs.</summary>
    public static OpsPermissions PermissionFor(SignOffKind kind) =>
        kind == SignOffKind.Approved ? OpsPermissions.ApproveDeployments : OpsPermissions.SignOffDeployments;

    /// <summary>Why the run is read-only, or null when it is open.</summary>
    public static Refusal? ReadOnlyRefusal(DeploymentRun run) => run.Status switch
    {
        DeploymentStatus.Complete => Refusal.Conflict(
            $"This run is COMPLETE (approved by {run.Approved?.UserName} at {run.Approved?.At:u}); it is read-only, only notes can be added."),
        DeploymentStatus.RolledBack => Refusal.Conflict(
            $"This run is ROLLED BACK (signed by {run.RolledBack?.UserName} at {run.RolledBack?.At:u}); it is read-only, only notes can be added."),
        _ => null,
    };

    /// <summary>What still stands between the run and approval (empty when nothing does), whoever approves, in sentences.</summary>
    public static IReadOnlyList<string> ApprovalBlockers(DeploymentRun run)
    {
        var blockers = ApprovalBlockerDetails(run);
        var sentences = new List<string>();
        foreach (var signature in blockers.Where(b => b.Kind == ApprovalBlockerKind.Signature))
        {
            sentences.Add(signature.Text + ".");
        }

        var open = blockers.Where(b => b.Kind == ApprovalBlockerKind.Item).ToArray();
        if (open.Length > 0)
        {
            sentences.Add($"{Count(open.Length, "final-checklist item")} neither checked nor N/A: {string.Join("; ", open.Select(i => i.Text))}.");
        }

        var notPassing = blockers.Where(b => b.Kind == ApprovalBlockerKind.Check).ToArray();
        if (notPassing.Length > 0)
        {
            sentences.Add($"{Count(notPassing.Length, "check")} not passing on its latest run: {string.Join("; ", notPassing.Select(p => p.Text))}.");
        }

        return sentences;
    }

    /// <summary>
    /// What still stands between the run and approval, one entry per missing signature, open final-checklist item and check
    /// not passing, in that order, each naming what it is about so that a page can link to it.
    /// </summary>
    public static IReadOnlyList<ApprovalBlocker> ApprovalBlockerDetails(DeploymentRun run)
    {
        var blockers = new List<ApprovalBlocker>();
        if (run.Deployed is null)
        {
            blockers.Add(new(ApprovalBlockerKind.Signature, nameof(SignOffKind.Deployed), "Nobody has signed as deployer yet"));
        }

        if (run.Verified is null)
        {
            blockers.Add(new(ApprovalBlockerKind.Signature, nameof(SignOffKind.Verified), "Nobody has signed as verifier yet"));
        }

        blockers.AddRange(run.Runbook.ItemsOf(SectionRole.FinalChecklist)
            .Where(i => run.StateOf(i.Key) == ItemState.Unchecked)
            .Select(i => new ApprovalBlocker(ApprovalBlockerKind.Item, i.Key, i.Text)));

        blockers.AddRange(run.Runbook.Probes
            .Select(p => (Probe: p, Result: run.LatestProbeResults.GetValueOrDefault(p.Key)))
            .Where(p => p.Result is not { Passed: true })
            .Select(p => new ApprovalBlocker(
                ApprovalBlockerKind.Check, p.Probe.Key,
                p.Result is null ? $"{p.Probe.Title} (never run)" : $"{p.Probe.Title} ({p.Result.Message})")));
        return blockers;
    }

    /// <summary>Rollback items neither checked nor N/A.</summary>
    public static IReadOnlyList<ChecklistItem> OpenRollbackItems(DeploymentRun run) =>
        [.. run.Runbook.ItemsOf(SectionRole.Rollback).Where(i => run.StateOf(i.Key) == ItemState.Unchecked)];

    private static Refusal? CheckVerified(DeploymentRun run, OpsActor actor)
    {
        if (run.Verified is { } v)
        {
            return AlreadySigned(SignOffKind.Verified, v);
        }

        if (run.Deployed is null)
        {
            return Refusal.Rule("The deployer signs first; then someone else verifies.");
        }

        return run.Deployed.IsBy(actor)
            ? Refusal.Forbidden($"{actor.DisplayName} deployed this run, so someone else must verify it.")
            : null;
    }

    private static Refusal? CheckApproved(DeploymentRun run, OpsActor actor)
    {
        if (run.Deployed?.IsBy(actor) == true)
        {
            return Refusal.Forbidden($"{actor.DisplayName} deployed this run and cannot approve it: approval needs a third person.");
        }

        if (run.Verified?.IsBy(actor) == true)
        {
            return Refusal.Forbidden($"{actor.DisplayName} verified this run and cannot approve it: approval needs a third person.");
        }

        var blockers = ApprovalBlockers(run);
        return blockers.Count == 0 ? null : Refusal.Rule("Not ready for approval. " + string.Join(" ", blockers));
    }

    /// <summary>The checks of <paramref name="item"/>'s section whose latest run failed (a check never run is not here).</summary>
    public static IReadOnlyList<(Probe Probe, ProbeResult Result)> FailingChecksOf(DeploymentRun run, ChecklistItem item) =>
    [
        .. run.Runbook.Probes
            .Where(p => p.SectionKey == item.SectionKey)
            .Select(p => (Probe: p, Result: run.LatestProbeResults.GetValueOrDefault(p.Key)))
            .Where(p => p.Result is { Passed: false })
            .Select(p => (p.Probe, p.Result!)),
    ];

    private static Refusal? CheckRolledBack(DeploymentRun run, string? reason, bool reasonToCome)
    {
        var open = OpenRollbackItems(run);
        if (open.Count > 0)
        {
            return Refusal.Rule(
                $"The rollback is not done: {Count(open.Count, "rollback item")} neither checked nor N/A: {string.Join("; ", open.Select(i => i.Text))}.");
        }

        // Rolling back what was never deployed is usually a slip; it stays possible for a deployment that went out
        // unsigned, with the reason on the record.
        if (RollbackNeedsReason(run) && !reasonToCome && (reason?.Trim().Length ?? 0) < MinRollbackReasonLength)
        {
            return Refusal.Rule(
                $"Nobody has signed this run as deployed, so there is nothing recorded to roll back. Sign as deployer first, or give a reason of at least {MinRollbackReasonLength} characters for rolling back a deployment that was not signed.");
        }

        return null;
    }

    private static Refusal AlreadySigned(SignOffKind kind, Signature signature) =>
        Refusal.Conflict($"{kind.Label()} is already signed by {signature.UserName} at {signature.At:u}.");

    private static string Count(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";
}

/// <summary>What an <see cref="ApprovalBlocker"/> is about.</summary>
public enum ApprovalBlockerKind
{
    /// <summary>A signature approval needs (<see cref="ApprovalBlocker.Key"/> is a <see cref="SignOffKind"/> name).</summary>
    Signature,

    /// <summary>A final-checklist item neither checked nor N/A (the key is the item's).</summary>
    Item,

    /// <summary>A check whose latest run did not pass, or that never ran (the key is the probe's).</summary>
    Check,
}

/// <summary>One thing that stands between a run and approval.</summary>
/// <param name="Kind">What it is about.</param>
/// <param name="Key">The item's or probe's key, or the missing signature's kind.</param>
/// <param name="Text">What is wrong, for people (no trailing full stop).</param>
public sealed record ApprovalBlocker(ApprovalBlockerKind Kind, string Key, string Text);

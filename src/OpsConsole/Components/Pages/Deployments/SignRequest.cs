using OpsConsole.Core.Actions;
using OpsConsole.Core.Deployments;

namespace OpsConsole.Components.Pages.Deployments;

/// <summary>A signature the user asked for on the run page, with their reason (a rollback's), if any.</summary>
public sealed record SignRequest(SignOffKind Kind, string? Reason);

/// <summary>A signature the service refused, shown beside the button that asked for it.</summary>
public sealed record SignRefusal(SignOffKind Kind, Refusal Refusal);

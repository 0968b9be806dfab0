namespace OpsConsole.Core.Actions;

/// <summary>Why Core refused a request. The app maps each to one HTTP status and one way of showing it.</summary>
public enum RefusalKind
{
    /// <summary>The actor may not do this (403), including four-eyes rules: a maker approving their own change.</summary>
    Forbidden,

    /// <summary>Something named does not exist (404).</summary>
    NotFound,

    /// <summary>It changed since the actor looked, or is not in the state the request needs (409).</summary>
    Conflict,

    /// <summary>The input is missing or malformed (400).</summary>
    Invalid,

    /// <summary>Well-formed, allowed, current, but a business rule refuses it (422): a balance would go negative.</summary>
    Rule,
}

/// <summary>A refusal: nothing was changed, and <see cref="Message"/> tells a person why and what to do.</summary>
/// <param name="Kind">The kind, for status codes and colours.</param>
/// <param name="Message">One or two sentences a person can act on.</param>
/// <param name="Detail">Optional data for callers that can use it (the current values after a stale write).</param>
public sealed record Refusal(RefusalKind Kind, string Message, object? Detail = null)
{
    /// <summary>The actor may not do this.</summary>
    public static Refusal Forbidden(string message) => new(RefusalKind.Forbidden, message);

    /// <summary>No such thing.</summary>
    public static Refusal NotFound(string message) => new(RefusalKind.NotFound, message);

    /// <summary>Changed meanwhile, or in the wrong state.</summary>
    public static Refusal Conflict(string message, object? detail = null) => new(RefusalKind.Conflict, message, detail);

    /// <summary>Bad input.</summary>
    public static Refusal Invalid(string message) => new(RefusalKind.Invalid, message);

    /// <summary>A business rule says no.</summary>
    public static Refusal Rule(string message, object? detail = null) => new(RefusalKind.Rule, message, detail);
}

/// <summary>The outcome of a Core action: done, or refused with nothing changed.</summary>
public class OpsResult
{
    /// <summary>Done.</summary>
    public static OpsResult Ok { get; } = new(null);

    /// <summary>A result; null <paramref name="refusal"/> means done.</summary>
    protected OpsResult(Refusal? refusal) => Refusal = refusal;

    /// <summary>Why it was refused; null when it was done.</summary>
    public Refusal? Refusal { get; }

    /// <summary>True when it was done.</summary>
    public bool Succeeded => Refusal is null;

    /// <summary>A refusal as a result: <c>return Refusal.NotFound("...");</c></summary>
    public static implicit operator OpsResult(Refusal refusal) => new(refusal);
}

/// <summary>The outcome of a Core action that yields a value when it is done.</summary>
/// <typeparam name="T">The value.</typeparam>
public sealed class OpsResult<T> : OpsResult
{
    private readonly T? _value;

    private OpsResult(T? value, Refusal? refusal)
        : base(refusal) => _value = value;

    /// <summary>The value; reading it from a refusal is a bug and throws.</summary>
    public T Value => Succeeded ? _value! : throw new InvalidOperationException($"The action was refused: {Refusal!.Message}");

    /// <summary>Done, with <paramref name="value"/>.</summary>
    public static OpsResult<T> Success(T value) => new(value, null);

    /// <summary>A value as a result: <c>return run;</c></summary>
    public static implicit operator OpsResult<T>(T value) => new(value, null);

    /// <summary>A refusal as a result: <c>return Refusal.NotFound("...");</c></summary>
    public static implicit operator OpsResult<T>(Refusal refusal) => new(default, refusal);
}

namespace Tessera;

/// <summary>
/// Thrown when the session store failed a call or did not answer within <see cref="TesseraOptions.StoreTimeout"/>:
/// the store's own exception (a socket error, a database error, a cancelled wait) is the
/// <see cref="Exception.InnerException"/>. The message names the operation and the inner exception's type, never a
/// credential or the inner message (which may carry a host name or more).
/// </summary>
/// <remarks>
/// This is the failure contract's one exception: a failed <em>load</em> never throws it (the request goes on without a
/// session, <see cref="TesseraSession.IsStoreUnavailable"/>), a failed <em>commit</em> does, and the ASP.NET Core
/// middleware answers it with 503 and <c>Retry-After</c> whenever the response has not started yet.
/// </remarks>
public sealed class SessionStoreUnavailableException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public SessionStoreUnavailableException()
        : base("The session store is unavailable.")
    {
        Operation = "unknown";
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message: never put a credential or a connection string in it.</param>
    public SessionStoreUnavailableException(string message)
        : base(message)
    {
        Operation = "unknown";
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message: never put a credential or a connection string in it.</param>
    /// <param name="innerException">The store's exception.</param>
    public SessionStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = "unknown";
    }

    private SessionStoreUnavailableException(string operation, bool timedOut, string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = operation;
        TimedOut = timedOut;
    }

    /// <summary>The store operation that failed, as tagged in <c>tessera.store.errors</c> (say <c>apply</c>); <c>unknown</c> when not given.</summary>
    public string Operation { get; }

    /// <summary>Whether the store did not answer within <see cref="TesseraOptions.StoreTimeout"/> (rather than failing).</summary>
    public bool TimedOut { get; }

    internal static SessionStoreUnavailableException Failed(string operation, Exception cause) =>
        new(operation, false, $"The session store failed a {operation} call ({cause.GetType().Name}).", cause);

    internal static SessionStoreUnavailableException TimedOutAfter(string operation, TimeSpan timeout, Exception cause) =>
        new(operation, true, $"The session store did not answer a {operation} call within {timeout.TotalSeconds:0.###} s.", cause);
}

/// <summary>
/// Thrown by <see cref="TesseraSession.Set{T}(string, T)"/> (and the other writes) when the change would make the
/// session's data larger than <see cref="TesseraOptions.MaxDataBytes"/>. The change is not made, nothing is written, and
/// the ASP.NET Core middleware answers an unhandled one with 413. The message names the sizes, never a value.
/// </summary>
public sealed class SessionDataTooLargeException : InvalidOperationException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public SessionDataTooLargeException()
        : base("The session's data would exceed its size limit.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public SessionDataTooLargeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SessionDataTooLargeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal SessionDataTooLargeException(string key, long size, int limit)
        : base($"Setting session key '{key}' would make the session's data {size} bytes, over the limit of {limit} bytes (Tessera:MaxDataBytes).")
    {
        Size = size;
        Limit = limit;
    }

    /// <summary>The size in bytes (UTF-8 keys plus JSON values) the data would have had; 0 when not given.</summary>
    public long Size { get; }

    /// <summary>The limit in force (<see cref="TesseraOptions.MaxDataBytes"/>); 0 when not given.</summary>
    public int Limit { get; }
}

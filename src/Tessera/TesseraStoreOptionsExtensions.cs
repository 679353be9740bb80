using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Tessera;

/// <summary>
/// Registers a store's options the way <see cref="TesseraOptions"/> are registered: bound from a configuration section,
/// adjusted by code, and validated when the host starts. For store packages (Tessera's own and custom ones): a
/// <c>Use...Store()</c> call that reads its settings from configuration calls
/// <see cref="AddStoreOptions{TOptions}(TesseraBuilder, string, Action{TOptions}?, Func{TOptions, IEnumerable{ArgumentException}})"/>
/// and builds its store from <see cref="IOptions{TOptions}"/>.
/// </summary>
public static class TesseraStoreOptionsExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/> as <see cref="IOptions{TOptions}"/>: bound from
    /// <paramref name="configurationSection"/> of the application's <c>IConfiguration</c> (once, however often this is
    /// called), then adjusted by <paramref name="configure"/> (so code wins over configuration), and validated at
    /// start-up (<c>ValidateOnStart</c>) and whenever the options are first read. A bad value fails with an
    /// <see cref="OptionsValidationException"/> that has one message per problem, each naming its configuration key, for
    /// example <c>Tessera:Sqlite:MaxSessions: MaxSessions must be at least 1.</c>; a value configuration cannot convert
    /// (a word where a number belongs) fails the same way with the binder's own message, which names the key too.
    /// </summary>
    /// <typeparam name="TOptions">The store's options class.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="configurationSection">The section, for example <c>Tessera:Sqlite</c>; an absent section keeps the defaults.</param>
    /// <param name="configure">Adjusts the options after binding; <see langword="null"/> leaves them to configuration.</param>
    /// <param name="problems">
    /// Every problem of a set of options, none when they are valid. Each is an <see cref="ArgumentException"/> whose
    /// <see cref="ArgumentException.ParamName"/> is the property's name, the key under the section.
    /// </param>
    /// <returns>The builder.</returns>
    public static TesseraBuilder AddStoreOptions<TOptions>(
        this TesseraBuilder builder,
        string configurationSection,
        Action<TOptions>? configure,
        Func<TOptions, IEnumerable<ArgumentException>> problems)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(configurationSection);
        ArgumentNullException.ThrowIfNull(problems);
        var options = builder.Services.AddOptions<TOptions>();
        // BindConfiguration registers a change token source; its presence says the section is bound already.
        if (!builder.Services.Any(d => d.ServiceType == typeof(IOptionsChangeTokenSource<TOptions>)))
        {
            options.BindConfiguration(configurationSection);
        }
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new StoreOptionsValidator<TOptions>(configurationSection, problems)));
        return builder;
    }

    private sealed class StoreOptionsValidator<TOptions>(string section, Func<TOptions, IEnumerable<ArgumentException>> problems) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            var failures = problems(options)
                .Select(e => $"{section}{(e.ParamName is { } key ? ":" + key : "")}: {e.Message.Split(" (Parameter '", 2)[0]}")
                .ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}

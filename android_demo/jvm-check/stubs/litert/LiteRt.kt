// A stand-in for LiteRT 2.x's Kotlin API (com.google.ai.edge.litert, the CompiledModel flavor):
// the classes, constructors and methods the app calls, with their signatures, and no native code.
// LiteRtStub (not LiteRT API) lets tests make a call fail and see which handles are still open.
@file:Suppress("unused", "UNUSED_PARAMETER")

package com.google.ai.edge.litert

import android.content.Context
import android.content.res.AssetManager

/** Test hooks of the stand-in. */
object LiteRtStub {
    /** The name of the call that throws a [LiteRtException], e.g. "createOutputBuffers" or "run". */
    var failOn: String? = null

    /** What [Environment.getAvailableAccelerators] reports. */
    var available: Set<Accelerator> = setOf(Accelerator.CPU)

    /** The values the next [CompiledModel.run] writes into its first output buffer. */
    var output: Any = FloatArray(0)

    /** Accelerators the last compiled model was created with. */
    var lastAccelerators: Set<Accelerator> = emptySet()

    val openHandles = mutableListOf<JniHandle>()

    fun reset() {
        failOn = null
        available = setOf(Accelerator.CPU)
        output = FloatArray(0)
        lastAccelerators = emptySet()
        openHandles.clear()
    }

    internal fun call(name: String) {
        if (failOn == name) throw LiteRtException(Status.ErrorRuntimeFailure, "$name failed (stand-in)")
    }
}

enum class Accelerator(val value: Int) { NONE(0), CPU(1), GPU(2), NPU(3) }

enum class Status(val code: Int) { Ok(0), ErrorInvalidArgument(1), ErrorRuntimeFailure(3), ErrorUnsupported(5) }

/** A checked exception: Kotlin does not make callers catch it, Java would. */
class LiteRtException(private val status: Status, message: String) : Exception(message)

abstract class JniHandle internal constructor(internal val handle: Long) : AutoCloseable {
    private var destroyed = false

    init {
        LiteRtStub.openHandles += this
    }

    protected abstract fun destroy()

    final override fun close() {
        if (!destroyed) {
            destroyed = true
            LiteRtStub.openHandles -= this
            destroy()
        }
    }
}

interface NpuAcceleratorProvider {
    fun isDeviceSupported(): Boolean

    fun isLibraryReady(): Boolean

    suspend fun downloadLibrary()

    fun getLibraryDir(): String
}

class BuiltinNpuAcceleratorProvider(private val context: Context) : NpuAcceleratorProvider {
    override fun isDeviceSupported(): Boolean = Accelerator.NPU in LiteRtStub.available

    override fun isLibraryReady() = true

    override suspend fun downloadLibrary() {}

    override fun getLibraryDir(): String = ""
}

class Environment private constructor() : JniHandle(0) {
    enum class Option(val value: Int) { CompilerPluginLibraryDir(0), DispatchLibraryDir(1) }

    override fun destroy() {}

    @Throws(LiteRtException::class)
    fun getAvailableAccelerators(): Set<Accelerator> {
        LiteRtStub.call("getAvailableAccelerators")
        return LiteRtStub.available
    }

    companion object {
        @Throws(LiteRtException::class)
        @JvmStatic
        fun create(options: Map<Option, String> = mapOf()): Environment {
            LiteRtStub.call("Environment.create")
            return Environment()
        }

        @Throws(LiteRtException::class)
        @JvmStatic
        fun create(
            npuAcceleratorProvider: NpuAcceleratorProvider,
            options: Map<Option, String> = mapOf(),
        ): Environment {
            LiteRtStub.call("Environment.create")
            return Environment()
        }
    }
}

class TensorBuffer internal constructor() : JniHandle(0) {
    internal var data: Any = FloatArray(0)

    override fun destroy() {}

    @Throws(LiteRtException::class)
    fun writeFloat(data: FloatArray) {
        LiteRtStub.call("writeFloat")
        this.data = data.copyOf()
    }

    @Throws(LiteRtException::class)
    fun writeInt8(data: ByteArray) {
        LiteRtStub.call("writeInt8")
        this.data = data.copyOf()
    }

    @Throws(LiteRtException::class)
    fun readFloat(): FloatArray {
        LiteRtStub.call("readFloat")
        return (data as FloatArray).copyOf()
    }

    @Throws(LiteRtException::class)
    fun readInt8(): ByteArray {
        LiteRtStub.call("readInt8")
        return (data as ByteArray).copyOf()
    }
}

class CompiledModel private constructor(private val env: Environment, private val envManaged: Boolean) : JniHandle(0) {
    data class CpuOptions(val numThreads: Int? = null, val xnnPackFlags: Int? = null)

    class Options(internal val accelerators: Set<Accelerator>) {
        constructor(vararg accelerators: Accelerator) : this(setOf(*accelerators))

        var cpuOptions: CpuOptions? = null

        companion object {
            @JvmStatic val CPU = Options(Accelerator.CPU)
        }
    }

    @Throws(LiteRtException::class)
    fun createInputBuffers(signatureIndex: Int = 0): List<TensorBuffer> {
        LiteRtStub.call("createInputBuffers")
        return listOf(TensorBuffer())
    }

    @Throws(LiteRtException::class)
    fun createOutputBuffers(signatureIndex: Int = 0): List<TensorBuffer> {
        LiteRtStub.call("createOutputBuffers")
        return listOf(TensorBuffer())
    }

    @Throws(LiteRtException::class)
    fun run(inputs: List<TensorBuffer>, outputs: List<TensorBuffer>, signatureIndex: Int = 0) {
        LiteRtStub.call("run")
        outputs[0].data = LiteRtStub.output
    }

    override fun destroy() {
        if (envManaged) env.close()
    }

    companion object {
        @Throws(LiteRtException::class)
        @JvmStatic
        fun create(
            assetManager: AssetManager,
            assetName: String,
            options: Options = Options.CPU,
            optionalEnv: Environment? = null,
        ): CompiledModel {
            assetManager.open(assetName).close()
            val env = optionalEnv ?: Environment.create()
            try {
                LiteRtStub.call("CompiledModel.create")
            } catch (e: LiteRtException) {
                if (optionalEnv == null) env.close()
                throw e
            }
            // As LiteRT does: the CPU joins an NPU-only request, for the ops the NPU cannot take.
            val accelerators = if (options.accelerators == setOf(Accelerator.NPU)) {
                setOf(Accelerator.NPU, Accelerator.CPU)
            } else {
                options.accelerators
            }
            LiteRtStub.lastAccelerators = accelerators
            return CompiledModel(env, optionalEnv == null)
        }
    }
}

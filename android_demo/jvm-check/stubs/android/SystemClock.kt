package android.os

object SystemClock {
    @JvmStatic
    fun elapsedRealtimeNanos(): Long = System.nanoTime()
}
